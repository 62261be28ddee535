"""Which addresses a link from a feed may lead to: public ones, unless the feed itself is not public.

An article link is feed content, and feed content is untrusted: a hostile or compromised
feed could point newswatch at `http://169.254.169.254/…` or a service on the private network
and have its answer quoted in an alert. So a page linked from a feed on a public address is
fetched only from public addresses, checked for every redirect, and again when the connection
is made (`PublicResolver`, so a name that resolves differently the second time is caught too).
A feed that the operator configured on a private or loopback address (an intranet, a test
server) is trusted with its own network: its pages may be there too. Feed fetches themselves
go where the operator said, but a feed on a public address may not redirect to a private one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local, shared, reserved or multicast)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class Guard:
    """Says why a URL may not be fetched from a public context; `public` decides what an address is."""

    def __init__(self, public: Callable[[str], bool] = is_public) -> None:
        self._public = public

    async def refusal(self, url: str) -> str | None:
        """Why `url` leads to a non-public address, or None (also when its name does not resolve: the fetch will say)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            return None if self._public(str(literal)) else f"{host} is not a public address"
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None
        private = sorted({str(info[4][0]) for info in infos if not self._public(str(info[4][0]))})
        return f"{host} resolves to {', '.join(private)}, not a public address" if private else None

    async def is_public_url(self, url: str) -> bool:
        """Whether `url` is an http(s) URL on public addresses only (a file: URL is the operator's own, not public)."""
        return urlsplit(url).scheme in ("http", "https") and await self.refusal(url) is None

    def resolver(self) -> AbstractResolver:
        """An aiohttp resolver that drops non-public addresses, for connections made on behalf of feed content."""
        return PublicResolver(self._public)


class PublicResolver(AbstractResolver):
    """aiohttp's default resolver, keeping public addresses only; a name with none left fails to resolve."""

    def __init__(self, public: Callable[[str], bool] = is_public) -> None:
        from aiohttp.resolver import DefaultResolver

        self._inner: Any = DefaultResolver()
        self._public = public

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The public addresses of `host`."""
        found = [r for r in await self._inner.resolve(host, port, family) if self._public(r["host"])]
        if not found:
            raise OSError(f"{host} has no public address")
        return found

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()
