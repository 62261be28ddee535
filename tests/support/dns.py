"""Names resolved from a table, as /etc/hosts would: DNS records a test needs but cannot publish here."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class HostsResolver(AbstractResolver):
    """The table's names resolve to the table's addresses, in order; any other name through the system's resolver."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self._table = {name.lower(): list(addresses) for name, addresses in table.items()}
        self._system = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The addresses of `host` of the family asked for (any, with AF_UNSPEC)."""
        addresses = self._table.get(host.lower())
        if addresses is None:
            return await self._system.resolve(host, port, family)
        found = []
        for address in addresses:
            kind = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family in (socket.AF_UNSPEC, kind):
                found.append(ResolveResult(hostname=host, host=address, port=port, family=kind, proto=0, flags=socket.AI_NUMERICHOST))
        if not found:
            raise OSError(f"{host} has no address of that family")
        return found

    async def close(self) -> None:
        """Release the system's resolver."""
        await self._system.close()
