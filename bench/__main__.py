"""`make bench`: run every benchmark and print its figures."""

from bench import rules_bench

rules_bench.main()
