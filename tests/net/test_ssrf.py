"""The outbound request policy: URL checks, and the transport that pins what it checked.

No mocks of the network: servers are real sockets on loopback. What a test
cannot have here is a public name that resolves to a public address we can
reach, so "a host the policy allows" is played by 127.0.0.2 with the allow-list
(``allowed_networks=["127.0.0.2/32"]``) while 127.0.0.1 stays forbidden, and
made-up names are resolved by an injected resolver (the same hook that
demonstrates DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from wagate.net import (
    AddressPolicy,
    GuardedTransport,
    Reach,
    UnresolvableHostError,
    UnsafeURLError,
    check_url,
    is_public_address,
)
from wagate.net.ssrf import Resolver

ALLOWED_LOOPBACK = ["127.0.0.2/32"]


# ---- check_url -------------------------------------------------------------

FORBIDDEN_URLS = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/hook",
    "http://127.1.2.3/",
    "http://localhost/",
    "http://LOCALHOST:3000/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.0.1/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://192.0.0.8/",
    "http://198.18.0.1/",
    "http://192.0.2.1/",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/",  # 127.0.0.1, hex and short form
    "http://017700000001/",  # 127.0.0.1 in octal
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[2002:7f00:1::]/",  # 6to4
    "http://[2001::1]/",  # Teredo
    "http://[2001:db8::1]/",
    "https://127.0.0.1/",
]

FORBIDDEN_FORMS = [
    "file:///etc/passwd",
    "ftp://example.com/file",
    "gopher://example.com/",
    "javascript:alert(1)",
    "//example.com/no-scheme",
    "example.com/no-scheme",
    "http://user:pass@example.com/",
    "http://user@example.com/",
    "http:///no-host",
    "http://exa mple.com/",
    "http://exa%20mple.com/",
    "http://[fe80::1%25eth0]/",
]

PUBLIC_URLS = [
    "http://8.8.8.8/",
    "https://1.1.1.1:8443/hook",
    "http://93.184.215.14/",
    "http://[2606:4700:4700::1111]/",
    "http://[64:ff9b::808:808]/",  # NAT64 of a public address
]


# What a receiver beside a self-hosted gateway lives on: reachable with Reach.PRIVATE.
PRIVATE_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/",
    "http://10.1.2.3/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT: Tailscale and the like
    "http://[::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://[::ffff:10.0.0.1]/",
]
# Never reachable with Reach.PRIVATE: link-local, cloud metadata and the odd ranges.
STILL_REFUSED_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.0.1/",
    "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://100.100.100.200/",  # Alibaba's metadata service, inside 100.64/10
    "http://[fd00:ec2::254]/",  # AWS's IPv6 metadata service, inside fc00::/7
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
async def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        await check_url(url, reach=Reach.PUBLIC)
    assert "is not allowed" in caught.value.reason
    assert "WAGATE_ALLOW_PRIVATE_URLS" in caught.value.reason


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_reach_gets_loopback_and_private_ranges(url: str) -> None:
    await check_url(url, reach=Reach.PRIVATE)


@pytest.mark.parametrize("url", STILL_REFUSED_URLS)
async def test_private_reach_still_refuses_link_local_and_metadata(url: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        await check_url(url, reach=Reach.PRIVATE)
    assert "WAGATE_ALLOW_LINK_LOCAL_URLS" in caught.value.reason


async def test_a_refusal_does_not_say_what_a_name_resolves_to() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["10.20.30.40"]

    with pytest.raises(UnsafeURLError) as caught:
        await check_url("http://intranet.example/", reach=Reach.PUBLIC, resolver=resolver)
    assert "intranet.example is not allowed" in caught.value.reason
    assert "10.20.30.40" not in caught.value.reason
    assert "private address" not in caught.value.reason


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
async def test_any_reach_lets_every_address_through(url: str) -> None:
    await check_url(url, reach=Reach.ANY)


@pytest.mark.parametrize("url", FORBIDDEN_FORMS)
@pytest.mark.parametrize("reach", list(Reach))
async def test_bad_url_forms_are_refused_whatever_the_reach(url: str, reach: Reach) -> None:
    with pytest.raises(UnsafeURLError):
        await check_url(url, reach=reach)


@pytest.mark.parametrize("url", PUBLIC_URLS)
async def test_public_addresses_pass(url: str) -> None:
    # IP literals: getaddrinfo answers them without asking any DNS server.
    await check_url(url, reach=Reach.PUBLIC)


def _resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


async def test_names_are_judged_by_every_address_they_resolve_to() -> None:
    resolver = _resolver(
        {
            "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
            "mixed.example": ["93.184.215.14", "10.0.0.5"],
            "metadata.example": ["169.254.169.254"],
            "empty.example": [],
        }
    )
    await check_url("https://public.example/hook", reach=Reach.PUBLIC, resolver=resolver)
    for host in ("mixed.example", "metadata.example"):
        with pytest.raises(UnsafeURLError, match=host):
            await check_url(f"https://{host}/", reach=Reach.PUBLIC, resolver=resolver)
    for host in ("empty.example", "unknown.example"):
        with pytest.raises(UnresolvableHostError):
            await check_url(f"https://{host}/", reach=Reach.PUBLIC, resolver=resolver)


async def test_the_allow_list_opens_only_its_networks() -> None:
    await check_url("http://10.1.2.3/", reach=Reach.PUBLIC, allowed_networks=["10.0.0.0/8"])
    await check_url(
        "http://[::ffff:10.1.2.3]/", reach=Reach.PUBLIC, allowed_networks=["10.0.0.0/8"]
    )
    with pytest.raises(UnsafeURLError):
        await check_url("http://127.0.0.1/", reach=Reach.PUBLIC, allowed_networks=["10.0.0.0/8"])
    # An IPv4 network never matches an IPv6 address with the same low bits.
    with pytest.raises(UnsafeURLError):
        await check_url("http://[::a01:203]/", reach=Reach.PUBLIC, allowed_networks=["10.0.0.0/8"])


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2a03:2880:f12f:83:face:b00c:0:25de", True),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("192.0.0.8", False),  # ipaddress in 3.11.7 calls this global
        ("2002::1", False),  # and this
        ("224.0.0.1", False),  # and this (multicast)
        ("::ffff:8.8.8.8", True),
        ("fe80::1%1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_policy_reasons_name_the_kind_of_address() -> None:
    policy = AddressPolicy.build(reach=Reach.PUBLIC)
    reason = policy.refusal(ipaddress.ip_address("169.254.169.254"))
    assert reason is not None
    assert "link-local" in reason


# ---- GuardedTransport, against real servers ---------------------------------


@dataclass
class Server:
    base_url: str
    hits: list[tuple[str, str | None]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        state = cast(_StatefulServer, self.server).state
        state.hits.append((self.path, self.headers.get("Host")))
        parts = urlsplit(self.path)
        if parts.path == "/redirect":
            target = parse_qs(parts.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (self.headers.get("Host") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _StatefulServer(ThreadingHTTPServer):
    daemon_threads = True
    state: Server


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[_StatefulServer] = []

    def start(host: str, *, tls: ssl.SSLContext | None = None) -> Server:
        httpd = _StatefulServer((host, 0), _Handler)
        scheme = "http"
        if tls is not None:
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
            scheme = "https"
        httpd.state = Server(base_url=f"{scheme}://{host}:{httpd.server_address[1]}")
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(httpd)
        return httpd.state

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


async def test_requests_reach_allowed_addresses_and_not_others(
    serve: Callable[..., Server],
) -> None:
    allowed = serve("127.0.0.2")
    forbidden = serve("127.0.0.1")
    transport = GuardedTransport(reach=Reach.PUBLIC, allowed_networks=ALLOWED_LOOPBACK)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"{allowed.base_url}/")
        assert response.status_code == 200
        with pytest.raises(UnsafeURLError, match="is not allowed"):
            await client.get(f"{forbidden.base_url}/")
        port = forbidden.base_url.rsplit(":", 1)[1]
        with pytest.raises(UnsafeURLError, match="is not allowed"):
            await client.get(f"http://localhost:{port}/")
        with pytest.raises(UnsafeURLError, match="credentials"):
            await client.get(f"http://user:pw@127.0.0.2:{port}/")
    assert forbidden.hits == []


async def test_a_redirect_hop_is_checked_by_the_transport_itself(
    serve: Callable[..., Server],
) -> None:
    forbidden = serve("127.0.0.1")
    first_hop = serve("127.0.0.2")
    transport = GuardedTransport(reach=Reach.PUBLIC, allowed_networks=ALLOWED_LOOPBACK)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
            await client.get(f"{first_hop.base_url}/redirect?to={forbidden.base_url}/secret")
    assert [path for path, _ in first_hop.hits] == [f"/redirect?to={forbidden.base_url}/secret"]
    assert forbidden.hits == []


async def test_any_reach_reaches_loopback(serve: Callable[..., Server]) -> None:
    local = serve("127.0.0.1")
    port = local.base_url.rsplit(":", 1)[1]
    async with httpx.AsyncClient(transport=GuardedTransport(reach=Reach.ANY)) as client:
        assert (await client.get(f"{local.base_url}/")).status_code == 200
        assert (await client.get(f"http://localhost:{port}/")).status_code == 200


async def test_connections_go_to_the_checked_address_and_rebinding_fails(
    serve: Callable[..., Server],
) -> None:
    server = serve("127.0.0.2")
    port = int(server.base_url.rsplit(":", 1)[1])
    answers = [["127.0.0.2"], ["127.0.0.1"]]
    lookups: list[str] = []

    async def rebinding_dns(host: str, port: int) -> Sequence[str]:
        # Public (here: allow-listed) on the first lookup, loopback on the next,
        # the classic rebinding attack on check-then-connect code.
        lookups.append(host)
        return answers[min(len(lookups), len(answers)) - 1]

    url = f"http://rebind.test:{port}/whoami"
    transport = GuardedTransport(
        reach=Reach.PUBLIC, allowed_networks=ALLOWED_LOOPBACK, resolver=rebinding_dns
    )
    async with httpx.AsyncClient(transport=transport) as client:
        # The system resolver has never heard of rebind.test, so a 200 proves the
        # connection went to the address we resolved and checked, with the name
        # kept in the Host header.
        first = await client.get(url)
        again = await client.get(url)
    assert first.text == again.text == f"rebind.test:{port}"
    assert lookups == ["rebind.test"]  # one lookup, one kept-alive connection

    async with httpx.AsyncClient(
        transport=GuardedTransport(
            reach=Reach.PUBLIC, allowed_networks=ALLOWED_LOOPBACK, resolver=rebinding_dns
        )
    ) as client:
        with pytest.raises(UnsafeURLError, match="is not allowed"):
            await client.get(url)
    assert len(server.hits) == 2


async def test_unknown_hosts_fail_like_httpx_does() -> None:
    async def nothing(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    transport = GuardedTransport(reach=Reach.PUBLIC, resolver=nothing)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match=r"nowhere\.test"):
            await client.get("http://nowhere.test/")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not on PATH: the TLS pinning test needs a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=pinned.test",
            "-addext", "subjectAltName=DNS:pinned.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_keeps_the_name_for_sni_and_certificate_checks(
    serve: Callable[..., Server], certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    names: list[str | None] = []

    def record_server_name(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    server_tls.sni_callback = record_server_name
    server = serve("127.0.0.2", tls=server_tls)
    port = int(server.base_url.rsplit(":", 1)[1])

    async def dns(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.2"]

    client_tls = ssl.create_default_context(cafile=str(cert))
    transport = GuardedTransport(
        reach=Reach.PUBLIC, allowed_networks=ALLOWED_LOOPBACK, resolver=dns, verify=client_tls
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"https://pinned.test:{port}/")
        assert response.text == f"pinned.test:{port}"
        # Same address, other name: the certificate is checked against the name.
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await client.get(f"https://other.test:{port}/")
    assert names[0] == "pinned.test"
    assert "other.test" in names
