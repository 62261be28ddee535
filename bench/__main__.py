"""`make bench`: run every benchmark and print its figures (about 30 minutes)."""

from bench import article_bench, ingest_bench, parse_bench, process_bench, rules_bench, service_bench, web_bench

if __name__ == "__main__":
    rules_bench.main()
    print()
    parse_bench.main()
    print()
    ingest_bench.main()
    print()
    process_bench.main()
    print()
    article_bench.main()
    print()
    service_bench.main()
    print()
    web_bench.main()
