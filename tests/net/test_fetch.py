"""Fetching media by URL against real HTTP servers on loopback.

As in test_ssrf.py, 127.0.0.2 plays the public host (it is on the allow-list)
and 127.0.0.1 the forbidden one, so a redirect from one to the other shows the
re-check of every hop without any DNS or mocks.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from wagate.net import (
    BadResponseError,
    BlockedURLError,
    FetchConnectionError,
    FetchStatusError,
    FetchTimeoutError,
    MediaTooLargeError,
    Reach,
    TooManyRedirectsError,
    UnsafeURLError,
    create_guarded_client,
    fetch_media,
)

ALLOWED = ["127.0.0.2/32"]
PHOTO = bytes(range(256)) * 40  # 10 240 bytes
CHUNK = 64 * 1024
ENDLESS = 1024**3  # what /big would send if nobody stopped reading


@dataclass
class Server:
    base_url: str
    hits: list[str] = field(default_factory=list)
    peers: list[int] = field(default_factory=list)  # client ports: one per connection
    sent_bytes: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    big_done: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def state(self) -> Server:
        return cast(_StatefulServer, self.server).state

    def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.state
        state.hits.append(self.path)
        state.peers.append(self.client_address[1])
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route = getattr(self, "route_" + parts.path.strip("/").split("/")[0], None)
        if route is None:
            self._answer(404, b"not here")
        else:
            route(parts.path, query)

    def route_media(self, path: str, query: dict[str, str]) -> None:
        size = int(query.get("size", len(PHOTO)))
        body = (PHOTO * (size // len(PHOTO) + 1))[:size]
        self._answer(200, body, Content_Type="image/jpeg; charset=binary")

    def route_download(self, path: str, query: dict[str, str]) -> None:
        self._answer(200, b"%PDF-1.7", Content_Disposition=query["cd"])

    def route_redirect(self, path: str, query: dict[str, str]) -> None:
        self._answer(int(query.get("status", "302")), Location=query["to"])

    def route_loop(self, path: str, query: dict[str, str]) -> None:
        self._answer(302, Location="/loop")

    def route_chunked(self, path: str, query: dict[str, str]) -> None:
        size = int(query["size"])
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        body = (PHOTO * (size // len(PHOTO) + 1))[:size]
        for start in range(0, size, 1000):
            piece = body[start : start + 1000]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def route_big(self, path: str, query: dict[str, str]) -> None:
        # An endless chunked body; counts what actually left the server.
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
        try:
            while self.state.sent_bytes < ENDLESS and not self.state.stop.is_set():
                self.wfile.write(chunk)
                self.state.sent_bytes += CHUNK
        except OSError:
            pass  # the client hung up, as it should
        finally:
            self.state.big_done.set()
            self.close_connection = True

    def route_liar(self, path: str, query: dict[str, str]) -> None:
        # Announces 10 GB and then sends nothing: only the header can stop us early.
        self.send_response(200)
        self.send_header("Content-Length", str(10 * 1024**3))
        self.end_headers()
        self.wfile.flush()
        self.state.stop.wait(30)
        self.close_connection = True

    def route_trickle(self, path: str, query: dict[str, str]) -> None:
        # Each byte arrives well within any read timeout; only a total limit ends it.
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                if self.state.stop.wait(0.05):
                    break
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def route_gzip(self, path: str, query: dict[str, str]) -> None:
        self._answer(200, b"\x1f\x8b not really", Content_Encoding="gzip")


class _StatefulServer(ThreadingHTTPServer):
    daemon_threads = True
    state: Server


class _StatefulServer6(_StatefulServer):
    address_family = socket.AF_INET6


@pytest.fixture
def serve() -> Iterator[Callable[[str], Server]]:
    servers: list[_StatefulServer] = []

    def start(host: str) -> Server:
        server_class = _StatefulServer6 if ":" in host else _StatefulServer
        httpd = server_class((host, 0), _Handler)
        shown = f"[{host}]" if ":" in host else host
        httpd.state = Server(base_url=f"http://{shown}:{httpd.server_address[1]}")
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(httpd)
        return httpd.state

    yield start
    for httpd in servers:
        httpd.state.stop.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def public(serve: Callable[[str], Server]) -> Server:
    """The stand-in for a public media host."""
    return serve("127.0.0.2")


@pytest.fixture
def internal(serve: Callable[[str], Server]) -> Server:
    """A service on loopback that user URLs must never reach."""
    return serve("127.0.0.1")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with create_guarded_client(
        reach=Reach.PUBLIC, timeout=10, allowed_networks=ALLOWED
    ) as guarded:
        yield guarded


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int = 1024 * 1024,
    timeout: float = 10,
    reach: Reach = Reach.PUBLIC,
    max_redirects: int = 5,
) -> object:
    return await fetch_media(
        client,
        url,
        max_bytes=max_bytes,
        timeout=timeout,
        reach=reach,
        max_redirects=max_redirects,
        allowed_networks=ALLOWED,
    )


async def test_fetches_media_with_its_type_and_name(
    client: httpx.AsyncClient, public: Server
) -> None:
    media = await fetch_media(
        client,
        f"{public.base_url}/media/holiday%20photo.jpg",
        max_bytes=len(PHOTO),
        timeout=10,
        reach=Reach.PUBLIC,
        allowed_networks=ALLOWED,
    )
    assert media.data == PHOTO
    assert media.content_type == "image/jpeg"
    assert media.filename == "holiday photo.jpg"


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        ('attachment; filename="invoice 42.pdf"', "invoice 42.pdf"),
        ("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", "résumé.pdf"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename="..\\\\windows\\\\evil.exe"', "evil.exe"),
        ('attachment; filename=".."', None),
        ("inline", "download"),
    ],
)
async def test_filenames_are_bare_names(
    client: httpx.AsyncClient, public: Server, disposition: str, filename: str | None
) -> None:
    media = await fetch_media(
        client,
        f"{public.base_url}/download?cd={quote(disposition)}",
        max_bytes=1000,
        timeout=10,
        reach=Reach.PUBLIC,
        allowed_networks=ALLOWED,
    )
    assert media.data == b"%PDF-1.7"
    assert media.content_type is None
    assert media.filename == filename


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_follows_redirects(client: httpx.AsyncClient, public: Server, status: int) -> None:
    media = await fetch_media(
        client,
        f"{public.base_url}/redirect?status={status}&to=/media/final.jpg",
        max_bytes=len(PHOTO),
        timeout=10,
        reach=Reach.PUBLIC,
        allowed_networks=ALLOWED,
    )
    assert media.data == PHOTO
    assert media.filename == "final.jpg"
    assert public.hits[-1] == "/media/final.jpg"


async def test_redirect_limits(client: httpx.AsyncClient, public: Server) -> None:
    with pytest.raises(TooManyRedirectsError):
        await _fetch(client, f"{public.base_url}/loop")
    assert len(public.hits) == 6  # the first request and five redirects
    with pytest.raises(TooManyRedirectsError):
        await _fetch(client, f"{public.base_url}/redirect?to=/media/x.jpg", max_redirects=0)


def _forbidden_urls(internal: Server) -> list[str]:
    return [
        f"{internal.base_url}/media/x.jpg",
        f"http://localhost:{internal.port}/media/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        f"http://[::ffff:127.0.0.1]:{internal.port}/media/x.jpg",
        "file:///etc/passwd",
    ]


async def test_refuses_private_addresses_before_connecting(
    client: httpx.AsyncClient, internal: Server
) -> None:
    for url in _forbidden_urls(internal):
        with pytest.raises(BlockedURLError) as caught:
            await _fetch(client, url)
        assert caught.value.url == url
    assert internal.hits == []


async def test_refuses_a_redirect_to_a_private_address(
    client: httpx.AsyncClient, public: Server, internal: Server
) -> None:
    for target in _forbidden_urls(internal):
        url = f"{public.base_url}/redirect?to={quote(target)}"
        with pytest.raises(BlockedURLError) as caught:
            await _fetch(client, url)
        # The hop that was refused, as the redirect resolved it.
        assert caught.value.url == str(httpx.URL(public.base_url).join(target))
    assert len(public.hits) == len(_forbidden_urls(internal))
    assert internal.hits == []


async def test_allow_private_reaches_everything_local(
    serve: Callable[[str], Server], internal: Server, public: Server
) -> None:
    urls = [
        f"{internal.base_url}/media/a.jpg",
        f"http://localhost:{internal.port}/media/b.jpg",
        f"{public.base_url}/redirect?to={quote(internal.base_url + '/media/c.jpg')}",
    ]
    try:
        loopback6 = serve("::1")
        urls.append(f"{loopback6.base_url}/media/d.jpg")
    except OSError:
        pass  # no IPv6 loopback on this machine
    async with create_guarded_client(reach=Reach.ANY, timeout=10) as local_client:
        for url in urls:
            media = await fetch_media(
                local_client, url, max_bytes=len(PHOTO), timeout=10, reach=Reach.ANY
            )
            assert media.data == PHOTO
        with pytest.raises(BlockedURLError, match="scheme"):
            await fetch_media(
                local_client, "file:///etc/passwd", max_bytes=10, timeout=10, reach=Reach.ANY
            )


async def test_a_large_body_is_cut_off_without_being_read(
    client: httpx.AsyncClient, public: Server
) -> None:
    started = time.monotonic()
    with pytest.raises(MediaTooLargeError) as caught:
        await _fetch(client, f"{public.base_url}/big", max_bytes=1024 * 1024)
    assert caught.value.max_bytes == 1024 * 1024
    assert time.monotonic() - started < 5
    assert public.big_done.wait(10), "the server kept sending after the client gave up"
    # What left the server: the limit plus what socket buffers held, not the gigabyte.
    assert public.sent_bytes < 64 * 1024 * 1024


async def test_an_announced_length_over_the_limit_is_refused_up_front(
    client: httpx.AsyncClient, public: Server
) -> None:
    started = time.monotonic()
    with pytest.raises(MediaTooLargeError):
        await _fetch(client, f"{public.base_url}/liar", timeout=20)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("route", ["media", "chunked"])
async def test_the_limit_is_inclusive(
    client: httpx.AsyncClient, public: Server, route: str
) -> None:
    url = f"{public.base_url}/{route}?size=5000"
    assert len((await _fetch(client, url, max_bytes=5000)).data) == 5000  # type: ignore[attr-defined]
    with pytest.raises(MediaTooLargeError):
        await _fetch(client, url, max_bytes=4999)


async def test_the_time_limit_covers_the_whole_fetch(
    client: httpx.AsyncClient, public: Server
) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        await _fetch(client, f"{public.base_url}/trickle", timeout=1.0)
    assert 0.9 < time.monotonic() - started < 3


async def test_error_answers(client: httpx.AsyncClient, public: Server) -> None:
    with pytest.raises(FetchStatusError) as caught:
        await _fetch(client, f"{public.base_url}/nothing-here")
    assert caught.value.status_code == 404
    with pytest.raises(FetchStatusError):
        await _fetch(client, f"{public.base_url}/redirect?to=")  # a 302 without a target
    with pytest.raises(BadResponseError, match="gzip"):
        await _fetch(client, f"{public.base_url}/gzip")


async def test_connection_failures() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with create_guarded_client(reach=Reach.ANY, timeout=5) as local_client:
        with pytest.raises(FetchConnectionError):
            await fetch_media(
                local_client,
                f"http://127.0.0.1:{port}/",
                max_bytes=10,
                timeout=5,
                reach=Reach.ANY,
            )


async def test_the_guarded_client_neither_follows_redirects_nor_reaches_private_hosts(
    client: httpx.AsyncClient, public: Server, internal: Server
) -> None:
    response = await client.post(f"{public.base_url}/redirect?to=/media/x.jpg")
    assert response.status_code == 501  # http.server has no do_POST; nothing was followed
    response = await client.get(f"{public.base_url}/redirect?to=/media/x.jpg")
    assert response.status_code == 302
    assert response.next_request is not None
    with pytest.raises(UnsafeURLError):
        await client.post(f"{internal.base_url}/hook", json={"event": "message.received"})
    assert internal.hits == []


async def test_the_guarded_client_keeps_connections_alive(
    client: httpx.AsyncClient, public: Server
) -> None:
    for _ in range(3):
        assert (await client.get(f"{public.base_url}/media/x.jpg")).status_code == 200
    assert len(set(public.peers)) == 1
