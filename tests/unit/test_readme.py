"""The README and docs/ stay true: every relative link resolves, every command shown runs or exists."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from service.ops.cli import parser
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text, f"{doc.name} points outside the repository"
    broken = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists() or (anchor and resolved.suffix == ".md" and anchor not in anchors(resolved)):
            broken.append(target)
    assert not broken, f"{doc.name}: {broken}"


def shown_commands() -> list[list[str]]:
    """Every command line of the README's shell blocks, without its comment."""
    lines = []
    for block in BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                lines.append(words)
    return lines


def test_every_make_target_shown_exists() -> None:
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    shown = [words[1] for words in shown_commands() if words[0] == "make"]
    assert shown and set(shown) <= targets


def test_every_newswatch_command_shown_runs(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SLACK_"))}
    environ |= {"NEWSWATCH_CONFIG_DIR": str(ROOT / "config"), "NEWSWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}
    made = subprocess.run([sys.executable, "-m", "service", "db", "upgrade"], cwd=ROOT, env=environ, capture_output=True, timeout=120)
    assert made.returncode == 0, made.stderr  # commands that only read refuse to create a database
    ran = 0
    for words in shown_commands():
        if not words[0].endswith("newswatch"):
            continue
        done = subprocess.run(
            [sys.executable, "-m", "service", *words[1:]], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{' '.join(words)}: {done.stderr[-2000:]}"
        ran += 1
    assert ran >= 3


def test_every_command_in_the_table_is_a_command() -> None:
    table = re.findall(r"^\| `newswatch ([a-z]+(?: [a-z]+)?)", (ROOT / "README.md").read_text(encoding="utf-8"), re.M)
    assert len(table) >= 10
    for command in table:
        with pytest.raises(SystemExit) as done:
            parser().parse_args([*command.split(), "--help"])
        assert done.value.code == 0, command
