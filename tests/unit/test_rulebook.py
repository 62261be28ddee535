"""The Rules page and the playground take each rule's YAML out of rules.yaml on its own: every shipped rule must load that way."""

from __future__ import annotations

from pathlib import Path

from service.config import load_config
from service.ops.web.rulebook import rule_sources
from tests.conftest import ROOT


def test_every_shipped_rule_loads_alone_as_the_rules_page_and_the_playground_take_it() -> None:
    """A rule that leaned on another's YAML anchor (`*name`) would load in the file and fail alone, in front of the desk."""
    config = load_config(ROOT / "config")
    sources = rule_sources(config)
    assert [s["id"] for s in sources] == [r.id for r in config.rules_file.rules]
    for source in sources:
        assert source["text"].startswith(f"id: {source['id']}\n"), source["id"]
        assert source["failing"] == [], (source["id"], source["failing"])
        assert source["examples"] > 0, source["id"]


def test_a_rule_using_another_rules_anchor_is_written_out_so_that_it_loads_alone(tmp_path: Path) -> None:
    """YAML anchors are valid across rules in the file; the page's copy of such a rule must load and pass its examples too."""
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {id: f, url: 'https://example.org/feed.xml'}\n", encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(
        """destinations:
  out: {type: console}
rules:
  - id: first
    destinations: [out]
    match: {all: [border, Cambodia], none: &weather [flood, storm]}  # the anchor is here
    examples: {match: [{title: Cambodia border talks}]}
  - id: second
    destinations: [out]
    # this rule borrows the first one's exclusions
    match: {all: [border, Thailand], none: *weather}
    examples:
      match: [{title: Thailand border talks}]
      no_match: [{title: Thailand border flood}]
""",
        encoding="utf-8",
    )
    config = load_config(tmp_path)
    first, second = rule_sources(config)
    assert first["failing"] == [] and "# the anchor is here" in first["text"]  # its own lines, comments kept
    assert second["failing"] == [] and second["examples"] == 2
    assert "*weather" not in second["text"] and "flood" in second["text"]
    assert any("*weather" in line for _, line in second["lines"])  # the page still shows the file's own lines
