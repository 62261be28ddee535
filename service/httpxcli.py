"""httpx without its command-line client, which a poll never runs (~25 ms and two packages at every start).

`import httpx` runs `from ._main import main` to offer `httpx.main`, the `httpx` command; that
imports click (installed here for apprise) and tries pygments and rich. Where those are
importable in part, a service start pays for them and keeps them in memory for nothing.
`install` registers `httpx._main` as a small module whose `main` says so, before anything
imports httpx: httpx's own `from ._main import main` then finds it. Nothing else of httpx
changes, and if a later httpx asks `_main` for more, its own fallback for a missing command
line applies.
"""

from __future__ import annotations

import sys
from types import ModuleType

NAME = "httpx._main"


def main() -> None:
    """What `httpx.main` does here: refuse, naming the reason."""
    raise SystemExit("httpx's command-line client is not loaded by newswatch (service.httpxcli)")


def install() -> None:
    """Stand in for httpx's command-line module, unless httpx or that module is loaded already."""
    if NAME in sys.modules or "httpx" in sys.modules:
        return
    module = ModuleType(NAME, __doc__)
    module.main = main  # type: ignore[attr-defined]
    sys.modules[NAME] = module
