"""`make bench`: run every benchmark and print its figures."""

from bench import ingest_bench, rules_bench

if __name__ == "__main__":
    rules_bench.main()
    print()
    ingest_bench.main()
