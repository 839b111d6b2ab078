"""The client's address, believing ``X-Forwarded-For`` only from trusted proxies.

Anyone can send an ``X-Forwarded-For`` header, so taking it at its word would let
a client pick the address its rate limit is counted under. The header is read
only when the connection comes from a configured proxy, and then from the right:
each trusted proxy appended the address it received the request from, so the
first address (from the right) that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in entries
        )

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The address of the client: ``peer`` (the connection's far end) unless it
        is a trusted proxy that says, in ``forwarded_for``, whom it forwards."""
        if peer is None or not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _is_ip(hop):
                # A malformed entry: nothing to its left can be trusted either.
                return peer
            if not self.trusts(hop):
                return hop
        # Every hop is one of our proxies: the leftmost is as far as we can see.
        return hops[0] if hops else peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def server_options(trusted_proxies: Sequence[str]) -> dict[str, Any]:
    """uvicorn's proxy-header settings: only wagate's ``WAGATE_TRUSTED_PROXIES``
    decides. uvicorn's default believes ``X-Forwarded-*`` from 127.0.0.1, which
    would let anyone on this host (or behind an unconfigured proxy) pick their
    address; with proxies configured, uvicorn also takes their scheme (https)."""
    if not trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted_proxies)}
