"""Config loading: one bad file per case, each with its exact `file:line:column: message`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from scripts import write_schemas
from service.config import load_config
from service.config.schema import parse_duration
from service.config.yamlfile import ConfigError
from tests.conftest import FIXTURES, ROOT

BAD = sorted((FIXTURES / "config" / "bad").glob("*.yaml"))
GOOD_FEEDS = "feeds:\n  - id: a\n    url: https://example.org/a.rss\n    tags: [asia]\n"
GOOD_RULES = "destinations:\n  desk: {type: console}\nrules:\n  - id: r\n    destinations: [desk]\n    match: {any: [border]}\n"


def expected(path: Path) -> str:
    """The message a bad file declares in its first line."""
    return path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")


@pytest.mark.parametrize("case", BAD, ids=[p.stem for p in BAD])
def test_bad_file_is_rejected_with_its_exact_message(tmp_path: Path, case: Path) -> None:
    kind = "feeds.yaml" if case.name.startswith("feeds-") else "rules.yaml"
    (tmp_path / "feeds.yaml").write_text(GOOD_FEEDS, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(GOOD_RULES, encoding="utf-8")
    shutil.copy(case, tmp_path / kind)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert [str(p) for p in error.value.problems] == [f"{tmp_path / kind}:{expected(case)}".replace("CONFIG", str(tmp_path))]


def test_every_problem_of_both_files_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - id: a\n    url: https://x/a\n    interval: 0\n", encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(GOOD_RULES.replace("[desk]", "[desk, nope]"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert [p.message for p in error.value.problems] == ["a duration must be positive", "undefined destination 'nope'"]


def test_missing_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(GOOD_RULES, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert str(error.value) == f"{tmp_path / 'feeds.yaml'}:1:1: file not found"


def test_an_interval_under_a_minute_is_refused_by_the_json_schema_too() -> None:
    schema = json.loads((ROOT / "config" / "feeds.schema.json").read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"feeds": [{"id": "a", "url": "https://example.org/a", "interval": 30}]}, schema)


def test_shipped_config_loads_and_validates_against_its_json_schema() -> None:
    config = load_config(ROOT / "config")
    assert {r.id for r in config.ruleset.rules} >= {"vn-kh-border", "kh-th-border"}
    for name in ("feeds", "rules"):
        schema = json.loads((ROOT / "config" / f"{name}.schema.json").read_text(encoding="utf-8"))
        jsonschema.validate(yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text(encoding="utf-8")), schema)


def test_committed_json_schemas_are_up_to_date() -> None:
    for path, content in write_schemas.outputs().items():
        assert path.read_text(encoding="utf-8") == content, f"run `make fixtures` to refresh {path.name}"


def test_committed_feed_fixtures_are_up_to_date() -> None:
    from scripts import build_fixture_feeds

    for path, content in build_fixture_feeds.outputs().items():
        assert path.read_bytes() == content, f"run `make fixtures` to refresh {path.name}"


@pytest.mark.parametrize(
    ("text", "seconds"), [(600, 600), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("2w1d", 1296000)]
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10x", -5, 0, True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_host_may_have_its_own_concurrency(tmp_path: Path) -> None:
    from service.ingest.fetch import Fetcher

    feeds = GOOD_FEEDS + "hosts:\n  feeds.example.org: {concurrency: 8}\n  127.0.0.1:8000: {concurrency: 50}\n"
    (tmp_path / "feeds.yaml").write_text(feeds, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(GOOD_RULES, encoding="utf-8")
    config = load_config(tmp_path)
    assert [config.host_limit(h, 2) for h in ("feeds.example.org", "feeds.example.org:443", "127.0.0.1:8000", "other.org")] == [8, 8, 50, 2]
    fetcher = Fetcher(None, tmp_path, per_host=lambda host: config.host_limit(host, 2))  # type: ignore[arg-type]
    assert fetcher._gate("feeds.example.org")._value == 8 and fetcher._gate("other.org")._value == 2
    (tmp_path / "feeds.yaml").write_text(feeds.replace("{concurrency: 8}", "{concurrency: 0}"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert [p.message for p in error.value.problems] == ["must be at least 1"]


def test_a_rule_is_compiled_once_and_a_disabled_rules_terms_are_not_searched(tmp_path: Path) -> None:
    """The check compiles each enabled rule's tree and the ruleset keeps it; a disabled rule is checked apart."""
    from service.rules.compile import Compiler, Groups, check_rule, compile_rules

    rules = GOOD_RULES + "  - id: paused\n    enabled: false\n    destinations: [desk]\n    match: {any: [lighthouse]}\n"
    (tmp_path / "feeds.yaml").write_text(GOOD_FEEDS, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    spec = load_config(tmp_path).rules_file
    compiler = Compiler(Groups(spec.groups))
    checked = [check_rule(rule, compiler.groups, compiler if rule.enabled else None) for rule in spec.rules]
    assert checked == [[], []]
    ruleset = compile_rules(spec.rules, compiler.groups, compiler)
    assert ruleset.rules[0].tree is compiler.tree(spec.rules[0].match)  # not compiled a second time
    assert [r.id for r in ruleset.rules] == ["r"]
    assert [t.label for t in ruleset.terms] == ["border"]  # "lighthouse" is the disabled rule's
