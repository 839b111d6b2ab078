"""Keeping requests to user-given URLs away from the gateway's own network.

A webhook or media URL is chosen by a tenant, so without care it can point the
gateway at its loopback services, the LAN, or a cloud metadata endpoint
(169.254.169.254). Two layers stop that:

* :func:`check_url` refuses a URL up front (wrong scheme, credentials, a host
  that resolves to a non-public address). Good for a clear error when a URL is
  registered, but on its own it is open to DNS rebinding: the name may resolve
  to a public address now and to 127.0.0.1 when the request is made.
* :class:`GuardedTransport` closes that gap. It resolves the host itself when it
  opens a connection, refuses if any resolved address is not public, and then
  connects to exactly the addresses it checked. Every request, redirect hops
  included, goes out over such a connection.

The pinning happens in the connection pool's network backend, not by rewriting
the request URL to an IP: the URL keeps its host name, so the Host header, TLS
SNI and certificate verification all use the name, and the pool keys
connections by name. (With a URL rewritten to the IP, two names on one IP would
share a TLS connection whose certificate was only checked for the first name.)

How far a request may reach is a :class:`Reach`: public addresses only (other
users' URLs, by default), also loopback and private ranges (the
administrator's, so a receiver beside a self-hosted gateway works out of the
box), or anything (link-local and cloud metadata too, only when a setting says
so). A refusal says that the URL is not allowed and which setting decides,
never what the name resolved to: that would map the gateway's network for
whoever asks.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Resolves ``(host, port)`` to IP address strings; the event loop's getaddrinfo by default.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Our own table rather than ipaddress's is_global alone: its tables changed between
# Python patch releases (3.11.7 calls 192.0.0.8 and 2002::/16 global, for example),
# and the labels make refusals readable. is_global is still consulted as a backstop.
_BLOCKED: list[tuple[IPNetwork, str]] = [
    (ipaddress.ip_network(network), label)
    for network, label in [
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (or broadcast)"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/8", "reserved (IPv4-compatible or other)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignment (Teredo and others)"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    ]
]
# What a self-hosted receiver lives on: the gateway's own host, its LAN, a VPN.
_PRIVATE: list[IPNetwork] = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
    )
]
# Cloud metadata services outside link-local: refused even where private ranges
# are reachable (Alibaba's sits in carrier-grade NAT space, AWS's IPv6 one in ULA).
_METADATA: list[IPNetwork] = [
    ipaddress.ip_network(n) for n in ("100.100.100.200/32", "fd00:ec2::254/128")
]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# What a punycoded name or an IP literal (IPv6 without brackets) is made of.
_HOST_CHARS = re.compile(rb"[A-Za-z0-9_.:-]+")


class UnsafeURLError(Exception):
    """A URL, or an address its host resolves to, that the gateway must not request."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnresolvableHostError(UnsafeURLError):
    """The host has no address, so it cannot be shown to be safe."""


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for, when it is a mere wrapper: the
    operating system or a NAT64 gateway would connect to that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


class Reach(enum.Enum):
    """How far requests to a user-given URL may go."""

    PUBLIC = "public"  # public addresses only
    PRIVATE = "private"  # also loopback and private ranges; never link-local or metadata
    ANY = "any"  # everything, link-local and cloud metadata included

    def hint(self) -> str:
        """What to change to reach further, for a refusal's message."""
        if self is Reach.PUBLIC:
            return (
                "it is not a public address; only the administrator's URLs may reach "
                "private ones unless WAGATE_ALLOW_PRIVATE_URLS=true"
            )
        return (
            "link-local and cloud metadata addresses stay refused unless "
            "WAGATE_ALLOW_LINK_LOCAL_URLS=true"
        )


def _within(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(n.version == address.version and address in n for n in networks)


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses outbound requests may reach: as far as ``reach`` says,
    plus ``allowed_networks``, a finer allow-list of networks that are
    reachable even though they are not public."""

    reach: Reach = Reach.PUBLIC
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(
        cls, *, reach: Reach, allowed_networks: Iterable[str | IPNetwork] = ()
    ) -> AddressPolicy:
        networks = tuple(ipaddress.ip_network(n) for n in allowed_networks)
        return cls(reach=reach, allowed_networks=networks)

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None when it may. (For logs and
        tests: a caller is told only that the URL is not allowed.)"""
        if self.reach is Reach.ANY:
            return None
        target = _embedded_ipv4(address)
        if _within(target, self.allowed_networks):
            return None
        if _within(target, _METADATA):
            return f"cloud metadata address {address}"
        if self.reach is Reach.PRIVATE and _within(target, _PRIVATE):
            return None
        for network, label in _BLOCKED:
            if network.version == target.version and target in network:
                return f"{label} address {address}"
        if not target.is_global or target.is_multicast:
            return f"non-public address {address}"
        return None


def is_public_address(address: str | IPAddress) -> bool:
    """Whether the default policy lets a request reach ``address``."""
    return AddressPolicy().refusal(ipaddress.ip_address(address)) is None


async def resolve_host(host: str, port: int) -> Sequence[str]:
    """Every address the system resolver gives for ``host``, in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url_form(url: str | httpx.URL) -> httpx.URL:
    """Refuse what no address check needs to see: a scheme other than http(s),
    credentials in the URL (they would be sent to wherever a redirect leads and
    end up in logs), or no host. Returns the parsed URL."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeURLError(f"not a valid URL: {exc}") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise UnsafeURLError(f"scheme {parsed.scheme or '(none)'!r} is not allowed; use http(s)")
    if parsed.userinfo:
        raise UnsafeURLError("credentials in the URL are not allowed")
    if not parsed.raw_host:
        raise UnsafeURLError("the URL has no host")
    # httpx lets percent-escapes and IPv6 zone ids through in a host; neither
    # belongs in a URL a stranger hands us, and the resolver would read them its own way.
    if not _HOST_CHARS.fullmatch(parsed.raw_host):
        raise UnsafeURLError(f"{parsed.raw_host.decode('ascii', 'replace')!r} is not a host name")
    return parsed


async def _checked_addresses(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver
) -> list[IPAddress]:
    try:
        resolved = await resolver(host, port)
    except OSError as exc:
        raise UnresolvableHostError(f"cannot resolve {host}: {exc}") from exc
    if not resolved:
        raise UnresolvableHostError(f"{host} has no address")
    addresses = [ipaddress.ip_address(a) for a in resolved]
    # One bad address refuses the host: the connection could land on any of them.
    if any(policy.refusal(address) is not None for address in addresses):
        raise UnsafeURLError(f"{host} is not allowed: {policy.reach.hint()}")
    return addresses


async def check_url(
    url: str | httpx.URL,
    *,
    reach: Reach,
    allowed_networks: Iterable[str | IPNetwork] = (),
    resolver: Resolver | None = None,
) -> None:
    """Raise :class:`UnsafeURLError` unless ``url`` is an http(s) URL without
    credentials whose host resolves only to addresses the policy allows.

    With :attr:`Reach.ANY` only the form of the URL is checked; the scheme and
    credential rules still hold, since no local receiver needs them broken.
    """
    parsed = check_url_form(url)
    policy = AddressPolicy.build(reach=reach, allowed_networks=allowed_networks)
    if policy.reach is Reach.ANY:
        return
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    host = parsed.raw_host.decode("ascii")
    await _checked_addresses(host, port, policy, resolver or resolve_host)


class _PinningBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, and connects to the checked addresses, in one place,
    so no second lookup can hand the connection a different address."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout(timeout):
                addresses = await _checked_addresses(host, port, self._policy, self._resolver)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except UnresolvableHostError as exc:
            # Same error httpx gives for an unknown host, so callers need no special case.
            raise httpcore.ConnectError(exc.reason) from exc

        last_error: httpcore.ConnectError | None = None
        for address in addresses:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that only reaches addresses the policy allows.

    Each request's URL form is checked (scheme, credentials); each new
    connection resolves its host, checks every address and connects to a
    checked one. A refusal raises :class:`UnsafeURLError` out of
    ``client.send``, so callers catch it next to :class:`httpx.HTTPError`.
    Proxies from the environment are ignored: a proxy would resolve the host
    itself, out of our sight.
    """

    def __init__(
        self,
        *,
        reach: Reach,
        allowed_networks: Iterable[str | IPNetwork] = (),
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
    ) -> None:
        self.policy = AddressPolicy.build(reach=reach, allowed_networks=allowed_networks)
        self._inner = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, limits=limits)
        if self.policy.reach is Reach.ANY:
            return
        # httpx has no public way to hand its pool a network backend, so the pool
        # is rebuilt with the same settings plus ours; httpx's request/response
        # mapping and error translation are kept as they are.
        if not isinstance(getattr(self._inner, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("this httpx version has no _pool to guard; review GuardedTransport")
        self._inner._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinningBackend(self.policy, resolver or resolve_host),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url_form(request.url)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
