"""The Rules page and the playground take each rule's YAML out of rules.yaml on its own: every shipped rule must load that way."""

from __future__ import annotations

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
