"""Canonical links: the fast path for plain absolute links gives what parsing and rebuilding them gives."""

from __future__ import annotations

import random

import pytest

from service.ingest.parse import _canonical, _resolved

BASES = ["", "https://e.org/feed.xml", "http://E.org/a/b/", "HTTPS://x.org", "ftp://f.org/", "not a url"]
CASES = [
    "https://e.org/1/2",
    "http://e.org",
    "https://e.org/",
    "https://a.b-c.example/x/../y/./z",
    "https://e.org//double//slash",
    "https://e.org/a;params",
    "https://e.org/a;",
    "https://e.org/a?",
    "https://e.org/a#",
    "https://e.org/a?utm_source=x&b=1#top",
    "HTTPS://Example.ORG/a?fbclid=1#x",
    "https://e.org:443/a",
    "https://e.org:99999/a",
    "https://" + "a" * 63 + ".org/x",
    "https://" + "a" * 64 + ".org/x",
    "https://a..b/x",
    "https://.a/x",
    "https://a./x",
    "https://-/x",
    "https://e.org/%7Euser/~x/a:b@c!$&'()*+,=",
    "https://e.org/a b",
    "https://e.org/\u00e9",
    "https://e.org\\a",
    "https://user:pw@e.org/a",
    "https://[::1]/a",
    "//e.org/a",
    "/relative/path",
    "relative",
    "javascript:alert(1)",
    "mailto:x@e.org",
    "https:/e.org/a",
    "https:///a",
    " https://e.org/a\t",
    "http://e.org/a\nb",
]


def _slow(link: str, base: str) -> tuple[str, str]:
    """What the long way gives (after the strip both ways do)."""
    link = link.strip()
    return _resolved(link, base) if link else ("", "")


@pytest.mark.parametrize("base", BASES)
def test_the_fast_path_agrees_on_written_cases(base: str) -> None:
    for link in CASES:
        assert _canonical(link, base) == _slow(link, base), (link, base)


def test_the_fast_path_agrees_on_generated_links() -> None:
    rng = random.Random(28)
    alphabet = "aZ09-._~!$&'()*+,=:@%/?#;[]\\ \t\u00e9AZ"
    for _ in range(20_000):
        host = ".".join("".join(rng.choice("ab-9Z") for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 3)))
        path = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        link = rng.choice(["http://", "https://", "HTTP://", "http:/", ""]) + host + rng.choice(["", ":80", ":", "/"]) + path
        base = rng.choice(BASES)
        assert _canonical(link, base) == _slow(link, base), (link, base)
