"""The layout holds: storage maps rows and leases and decides nothing, so it imports only types from the deciding packages."""

from __future__ import annotations

import ast
import importlib
import types
import typing
from pathlib import Path

import pytest

from tests.conftest import ROOT

DECIDING = ("alerts", "service.ingest", "service.rules", "service.ops", "service.app", "service.config")
STORAGE = sorted((ROOT / "service" / "storage").glob("*.py"))


def imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, name, line) of every import in a module, at any depth; name None for `import module`."""
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
    return found


def is_type(value: object) -> bool:
    """A class, an enum, a Protocol or a type alias: something to annotate with, not to call for a decision."""
    return isinstance(value, type | types.GenericAlias | types.UnionType) or type(value).__module__ == "typing"


@pytest.mark.parametrize("path", STORAGE, ids=lambda p: p.name)
def test_storage_imports_only_types_from_the_packages_that_decide(path: Path) -> None:
    wrong = []
    for module, name, line in imports(path):
        if not module.startswith(DECIDING):
            continue
        value = getattr(importlib.import_module(module), name) if name else None
        if name is None or not is_type(value):
            wrong.append(f"{path.name}:{line}: {module}.{name or ''} is not a type")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_function_import() -> None:
    assert not is_type(importlib.import_module("service.ingest.route").route)
    assert is_type(importlib.import_module("service.ingest.route").Routed) and is_type(typing.Callable[[int], int])


def test_rules_check_loads_no_database_code() -> None:
    """Editing a rule and checking it stays quick: `rules check` imports neither SQLAlchemy nor the storage package."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from service.ops.cli import main\n"
        "try:\n"
        f"    main(['rules', 'check', {str(ROOT / 'config')!r}])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'service.storage'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
