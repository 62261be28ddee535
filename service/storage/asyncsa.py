"""SQLAlchemy's asyncio engine without the ORM, which the service never uses (~50 ms of imports at every start).

`sqlalchemy.ext.asyncio`'s package module imports its ORM sessions, and with them the whole
ORM, before any of its submodules can load. `install` registers that package unexecuted, with
the engine's names already on it: `from sqlalchemy.ext.asyncio import AsyncConnection` works
without the ORM, and the package runs in full the first time anything else is asked of it
(an `AsyncSession`, say). `service.storage` installs it before any of its modules loads.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

PACKAGE = "sqlalchemy.ext.asyncio"
ENGINE_NAMES = ("AsyncConnection", "AsyncEngine", "AsyncTransaction", "create_async_engine")


def install() -> None:
    """Register the package unexecuted (nothing if something imported it already)."""
    if PACKAGE in sys.modules:
        return
    import sqlalchemy.ext

    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None:
        return
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(name: str) -> Any:
        """Run the package's own code once, then answer from it."""
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, name)

    sys.modules[PACKAGE] = package
    sqlalchemy.ext.asyncio = package
    engine: ModuleType = importlib.import_module(f"{PACKAGE}.engine")
    for name in ENGINE_NAMES:
        setattr(package, name, getattr(engine, name))
    package.__getattr__ = complete  # type: ignore[method-assign]  # only now: the engine's own imports take its siblings
