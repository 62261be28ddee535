"""The benchmarks that wrap the service's own functions still drive them: a small run of each, so that a changed signature fails here and not as a wrong figure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import article_bench, feedserver_proc


def test_the_article_benchmark_still_fetches_and_matches_every_candidates_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(article_bench, "FEEDS", 40)
    monkeypatch.setattr(article_bench, "HOSTS", 2)
    server, base = feedserver_proc.start(items=5, hosts=2)
    try:
        result = asyncio.run(article_bench.run(tmp_path, base, "auto"))
    finally:
        server.kill()
    article_bench.check(result)  # raises unless all 4 candidates' pages were fetched and matched
    assert len(result["held"]) == 4 and result["matches"] == 4
