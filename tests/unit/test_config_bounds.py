"""Config files are read within limits (size, nesting, aliases, tags) before anything recurses, with messages that help."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from service.config import load_config
from service.config.live import LiveConfig
from service.config.yamlfile import MAX_BYTES, ConfigError, parse

GOOD_FEEDS = "feeds: []\n"
GOOD_RULES = "destinations:\n  desk: {type: console}\nrules:\n  - id: r\n    destinations: [desk]\n    match: {any: [border]}\n"


def problems(source: str) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse(source, "rules.yaml")
    return [str(p) for p in error.value.problems]


def alias_bomb(levels: int) -> str:
    """Each level an anchored list of nine aliases to the level below: 9 ** levels values from a few hundred bytes."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_nesting_deeper_than_the_limit_is_refused_where_it_goes_too_deep() -> None:
    deep = "[" * 100_000 + "]" * 100_000  # 200 KB: the C composer overflowed its stack on this
    assert problems(deep) == ["rules.yaml:1:65: lists and mappings are nested more than 64 deep"]
    node: object = "border"
    for _ in range(10):
        node = {"all": [node]}
    assert parse(yaml.safe_dump({"rules": [{"match": node}]}), "rules.yaml").data  # ten levels of `all` are fine


def test_an_alias_bomb_is_refused_before_anything_expands_it() -> None:
    assert problems(alias_bomb(8)) == ["rules.yaml:6:40: aliases stand for more than 100,000 values (an alias bomb?): write the values out"]
    merged = "base: &base {type: console, timezone: UTC}\ndesks:\n" + "".join(f"  d{i}: {{<<: *base}}\n" for i in range(50))
    assert parse(merged, "rules.yaml").data["desks"]["d49"] == {"type": "console", "timezone": "UTC"}  # ordinary merges are fine


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert problems("a: &loop [1, *loop]\n") == ["rules.yaml:1:14: '*loop' refers to the '&loop' that contains it"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("rules: !include other.yaml\n", "rules.yaml:1:8: the tag '!include' is not allowed: newswatch reads plain YAML, without tags"),
        (
            "x: !!python/object/apply:os.system [id]\n",
            "rules.yaml:1:4: the tag '!!python/object/apply:os.system' is not allowed: newswatch reads plain YAML, without tags",
        ),
        ("x: !!binary aGk=\n", "rules.yaml:1:4: the tag '!!binary' is not allowed: newswatch reads plain YAML, without tags"),
        ("x: !custom\n  y: 1\n", "rules.yaml:1:4: the tag '!custom' is not allowed: newswatch reads plain YAML, without tags"),
    ],
)
def test_tags_other_than_the_standard_ones_are_refused_with_their_place(source: str, expected: str) -> None:
    assert problems(source) == [expected]


def test_standard_tags_are_read() -> None:
    assert parse("a: !!str 10\nb: !!int '3'\n", "rules.yaml").data == {"a": "10", "b": 3}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("rules:\n\t- id: r\n", "rules.yaml:2:1: YAML syntax error: a tab: YAML is indented with spaces only"),
        (
            "rules:\n  - id: r\n    destinations: [desk]\n   match: {}\n",
            "rules.yaml:4:4: YAML syntax error: this line is indented differently from the one above: check the indentation",
        ),
        (
            "rules:\n  - id: r\n    name: a: b\n",
            "rules.yaml:3:12: YAML syntax error: a ':' where no mapping can start: check the indentation, or quote a value that holds ': '",
        ),
        ("groups: {a: [x, y}\n", "rules.yaml:1:18: YAML syntax error: a list opened with '[' is not closed with ']'"),
        ("x: *nowhere\n", "rules.yaml:1:4: YAML syntax error: an alias (*name) whose anchor (&name) is not defined before it"),
    ],
)
def test_yaml_mistakes_are_explained_in_words_that_help(source: str, expected: str) -> None:
    assert problems(source) == [expected]


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text(GOOD_FEEDS, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(GOOD_RULES + "#" * MAX_BYTES, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert [p.message for p in error.value.problems] == [
        f"the file is {MAX_BYTES + len(GOOD_RULES):,} bytes: config files are limited to 4,000,000"
    ]


def test_an_example_file_must_be_a_regular_file_within_the_limit(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text(GOOD_FEEDS, encoding="utf-8")
    rules = GOOD_RULES + "    examples: {match: [{file: /dev/zero}]}\n"  # read whole, it would never end
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert [p.message for p in error.value.problems] == ["cannot read example: zero is not a regular file"]


def test_unknown_keys_suggest_the_key_meant(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - id: a\n    url: https://x.org/a\n    intervall: 10m\nhost: {}\n", encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(GOOD_RULES.replace("{type: console}", "{type: console, digets: off}"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert [p.message for p in error.value.problems] == [
        "unknown key 'intervall' (did you mean 'interval'?)",
        "unknown key 'host' (did you mean 'hosts'?)",
        "unknown key 'digets' (did you mean 'digest'?)",
    ]


def test_a_reload_that_fails_in_any_way_is_a_reported_error_logged_once_and_the_last_good_config_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "feeds.yaml").write_text(GOOD_FEEDS, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(GOOD_RULES, encoding="utf-8")
    failing = {"now": False}

    def load(directory: Path):  # type: ignore[no-untyped-def]
        if failing["now"]:
            raise RecursionError("maximum recursion depth exceeded")  # what a hostile file did to the rule compiler
        return load_config(directory)

    live = LiveConfig(tmp_path, lambda: datetime.now(UTC), load=load)
    good = live().version
    failing["now"] = True
    caplog.set_level(logging.ERROR, "newswatch.config")
    for comment in ("# one", "# two"):  # two edits that fail the same way
        (tmp_path / "rules.yaml").write_text(GOOD_RULES + comment, encoding="utf-8")
        assert live.reload() == "rejected"
    assert live().version == good and not live.valid
    assert live.last_error == f"{tmp_path}: the config could not be loaded: RecursionError: maximum recursion depth exceeded"
    rejected = [r for r in caplog.records if r.getMessage().startswith("config rejected")]
    assert len(rejected) == 1  # the same problem is not logged again


def test_group_cycles_are_found_as_a_reachability_walk_finds_them() -> None:
    """The one-pass component search reports exactly the references that close a cycle, on random group graphs."""
    import random

    from service.rules.compile import Groups

    rng = random.Random(7)
    for _ in range(200):
        names = [f"g{i}" for i in range(rng.randint(1, 12))]
        own = {n: [f"t{n}", *(f"@{rng.choice(names)}" for _ in range(rng.randint(0, 3)))] for n in names}

        def reaches(start: str, target: str, own: dict[str, list[str]] = own) -> bool:
            seen, todo = set(), [start]
            while todo:
                current = todo.pop()
                if current == target:
                    return True
                if current not in seen:
                    seen.add(current)
                    todo += [t[1:] for t in own[current] if t.startswith("@")]
            return False

        groups = Groups(own)
        component = groups._components()
        for name in names:
            for term in own[name][1:]:
                closes = component[term[1:]] == component[name]
                assert closes == reaches(term[1:], name), (own, name, term)


def test_a_long_chain_of_groups_with_a_cycle_at_its_end_is_reported() -> None:
    from service.rules.compile import Groups

    own = {f"g{i}": [f"t{i}", f"@g{i + 1}"] for i in range(5000)}
    own["g5000"] = ["t", "@g4999"]
    problems = Groups(own).check()
    assert ((["groups", "g4999", 1], "group 'g4999' includes itself through '@g5000'")) in problems
    assert len(problems) == 1
