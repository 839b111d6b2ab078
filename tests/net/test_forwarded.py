"""Which address is the client: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import pytest

from wagate.net.forwarded import TrustedProxies

PROXIES = TrustedProxies(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # No trusted proxy in front: the header is anybody's to write.
        ("203.0.113.5", "198.51.100.9", "203.0.113.5"),
        ("203.0.113.5", None, "203.0.113.5"),
        # A trusted proxy: the last address it appended is the client...
        ("10.1.2.3", "198.51.100.9", "198.51.100.9"),
        ("2001:db8::1", "198.51.100.9", "198.51.100.9"),
        # ...whatever the client claimed to the left of it.
        ("10.1.2.3", "1.2.3.4, 198.51.100.9", "198.51.100.9"),
        # Proxies in a chain are skipped, from the right.
        ("10.1.2.3", "198.51.100.9, 192.0.2.1, 10.9.9.9", "198.51.100.9"),
        # Only proxies all the way: the leftmost is as far as we can see.
        ("10.1.2.3", "10.4.4.4, 192.0.2.1", "10.4.4.4"),
        # A trusted proxy that sent no header, or garbage.
        ("10.1.2.3", None, "10.1.2.3"),
        ("10.1.2.3", "", "10.1.2.3"),
        ("10.1.2.3", "198.51.100.9, not-an-ip", "10.1.2.3"),
        (None, "198.51.100.9", None),
    ],
)
def test_client_address(peer: str | None, forwarded_for: str | None, client: str | None) -> None:
    assert PROXIES.client_address(peer, forwarded_for) == client


def test_no_trusted_proxies_means_the_header_is_ignored() -> None:
    assert TrustedProxies([]).client_address("10.1.2.3", "198.51.100.9") == "10.1.2.3"
