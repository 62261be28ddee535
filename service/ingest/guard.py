"""Which addresses a link from a feed may lead to: public ones, unless the operator says the feed is private.

An article link is feed content, and feed content is untrusted: a hostile or compromised
feed could point newswatch at `http://169.254.169.254/…` or a service on the private network
and have its answer quoted in an alert. So the links of a feed whose content came from a
public address are fetched only from public addresses: checked for every redirect, and again
when the connection is made (`PublicResolver`, so a name that resolves differently the second
time is caught too). Whether a feed's content came from a public address is decided by the
address it was actually fetched from (`service.ingest.fetch`), never by what else its name
resolves to: whoever runs the outlet's DNS must not be able to open our network to its
links. The operator can say it for a feed instead (`network: private` or `public` in
feeds.yaml). A feed fetched from a public address may not redirect to a non-public one.

An address is public when it is globally routable: not loopback, private, link-local (cloud
metadata), shared, reserved or multicast, and not such an IPv4 address wrapped in IPv6
(IPv4-mapped, IPv4-compatible, SIIT, NAT64, 6to4, Teredo). Refusals say "not a public
address" and never what a name resolved to.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052's well-known prefix: the IPv4 address is the last 32 bits
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local-use translation, never public
SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765's IPv4-translated addresses
COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible addresses (:: and ::1 included)

Lookup = Callable[[], AbstractResolver]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, SIIT, NAT64, 6to4, Teredo server and client)."""
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in NAT64 or ip in SIIT or ip in COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [v4 for v4 in found if v4 is not None]


@functools.lru_cache(maxsize=4_096)
def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local, shared, reserved or multicast).

    An IPv6 address that carries an IPv4 address is public only if that IPv4 address is. Cached:
    every fetch asks it of the address its answer came from.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.is_global and not ip.is_multicast
    if ip in NAT64_LOCAL:
        return False
    inner = embedded_ipv4(ip)
    if not all(v4.is_global and not v4.is_multicast for v4 in inner):
        return False
    if ip.ipv4_mapped is not None:  # the IPv4 address itself, as a dual-stack socket writes it
        return True
    return ip.is_global and not ip.is_multicast


def _default_lookup() -> AbstractResolver:
    """The system's resolver, as aiohttp uses it."""
    from aiohttp.resolver import DefaultResolver

    resolver: AbstractResolver = DefaultResolver()
    return resolver


class Guard:
    """Says why a URL may not be fetched from a public context; `public` decides what an address is.

    `lookup` makes the resolver that names are looked up with, here and by the HTTP clients
    (the system's by default).
    """

    def __init__(self, public: Callable[[str], bool] = is_public, lookup: Lookup = _default_lookup) -> None:
        self._public = public
        self._lookup = lookup
        self._resolver: AbstractResolver | None = None

    def is_public_address(self, address: str) -> bool:
        """Whether this address is public."""
        return self._public(address)

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
        if self._resolver is None:
            self._resolver = self._lookup()
        try:
            found = await self._resolver.resolve(host, parts.port or 443, socket.AF_UNSPEC)
        except (OSError, UnicodeError, ValueError):
            return None
        if all(self._public(str(r["host"])) for r in found):
            return None
        return f"{host} is not a public address"  # never which address: that would tell the asker about our network

    def resolver(self, public_only: bool = True) -> AbstractResolver:
        """A resolver for an HTTP client's connections; with `public_only`, one that drops non-public addresses."""
        inner = self._lookup()
        return PublicResolver(self._public, inner) if public_only else inner

    async def close(self) -> None:
        """Release the resolver of `refusal`."""
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None


class PublicResolver(AbstractResolver):
    """A resolver keeping public addresses only; a name with none left fails to resolve."""

    def __init__(self, public: Callable[[str], bool] = is_public, inner: AbstractResolver | None = None) -> None:
        self._inner: Any = inner or _default_lookup()
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
