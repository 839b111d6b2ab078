"""Fetching media by URL, and the HTTP client for requests to user-given URLs."""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from wagate.net.ssrf import (
    GuardedTransport,
    IPNetwork,
    Reach,
    UnresolvableHostError,
    UnsafeURLError,
    check_url,
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_UNSAFE_FILENAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_MAX_FILENAME_LENGTH = 255


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    content_type: str | None  # the media type only, lower-cased; a hint, to be sniffed
    filename: str | None  # a bare name, no directories


class FetchError(Exception):
    """Fetching ``url`` failed; the subclass says how."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class BlockedURLError(FetchError):
    """The URL, or a redirect hop, is refused by the outbound request policy."""

    def __init__(self, reason: str, *, url: str) -> None:
        super().__init__(reason, url=url)
        self.reason = reason


class FetchConnectionError(FetchError):
    """The server could not be reached or broke the connection."""


class FetchTimeoutError(FetchError):
    """The whole fetch, redirects and body included, took longer than allowed."""


class TooManyRedirectsError(FetchError):
    """More redirects than allowed."""


class FetchStatusError(FetchError):
    """The final answer was neither a success nor a usable redirect."""

    def __init__(self, status_code: int, *, url: str) -> None:
        super().__init__(f"the server answered {status_code}", url=url)
        self.status_code = status_code


class BadResponseError(FetchError):
    """The answer cannot be taken as it is (compressed, malformed length, bad Location)."""


class MediaTooLargeError(FetchError):
    """The body is, or announces itself as, larger than allowed."""

    def __init__(self, max_bytes: int, *, url: str) -> None:
        super().__init__(f"the media is larger than {max_bytes} bytes", url=url)
        self.max_bytes = max_bytes


def create_guarded_client(
    *,
    reach: Reach,
    timeout: float,
    allowed_networks: Iterable[str | IPNetwork] = (),
) -> httpx.AsyncClient:
    """A keep-alive client for user-given URLs (webhooks, media).

    It never follows redirects: a webhook answered with a 3xx has failed, and
    :func:`fetch_media` follows them itself so it can check every hop.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(reach=reach, allowed_networks=allowed_networks),
        follow_redirects=False,
        timeout=timeout,
        trust_env=False,
        headers={"User-Agent": "wagate"},
    )


class GuardedClients:
    """One guarded client per :class:`Reach`, made when first needed: a
    connection pool is bound to the policy it checked its addresses with."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._clients: dict[Reach, httpx.AsyncClient] = {}

    def __getitem__(self, reach: Reach) -> httpx.AsyncClient:
        client = self._clients.get(reach)
        if client is None:
            client = self._clients[reach] = create_guarded_client(reach=reach, timeout=self.timeout)
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


async def fetch_media(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - applied with asyncio.timeout, over all hops
    reach: Reach,
    max_redirects: int = 5,
    allowed_networks: Iterable[str | IPNetwork] = (),
) -> FetchedMedia:
    """GET ``url`` and return its body, never holding more than ``max_bytes``.

    Every hop is checked with :func:`check_url` before it is requested; use a
    client from :func:`create_guarded_client` so the connection itself is pinned
    to the checked address too (the check alone can be outrun by DNS rebinding).
    ``timeout`` bounds the whole fetch, not each read.
    """
    networks = tuple(allowed_networks)
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(
                client,
                url,
                max_bytes=max_bytes,
                request_timeout=timeout,
                reach=reach,
                max_redirects=max_redirects,
                allowed_networks=networks,
            )
    except TimeoutError as exc:
        raise FetchTimeoutError(f"fetching took longer than {timeout} s", url=url) from exc


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    request_timeout: float,
    reach: Reach,
    max_redirects: int,
    allowed_networks: tuple[str | IPNetwork, ...],
) -> FetchedMedia:
    current = url
    for _ in range(max_redirects + 1):
        try:
            await check_url(current, reach=reach, allowed_networks=allowed_networks)
        except UnresolvableHostError as exc:
            raise FetchConnectionError(exc.reason, url=current) from exc
        except UnsafeURLError as exc:
            raise BlockedURLError(exc.reason, url=current) from exc

        # identity, so the size limit counts the bytes we hold, not a
        # compressed stream that could inflate a thousandfold in one chunk.
        request = client.build_request(
            "GET", current, headers={"Accept-Encoding": "identity"}, timeout=request_timeout
        )
        with _translate_errors(current):
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                location = response.headers.get("location", "").strip()
                if response.status_code in _REDIRECT_STATUSES and location:
                    current = _redirect_target(response, location)
                    continue
                if not response.is_success:
                    raise FetchStatusError(response.status_code, url=current)
                data = await _read_body(response, max_bytes, current)
                return FetchedMedia(
                    data=data,
                    content_type=_media_type(response),
                    filename=_filename(response),
                )
            finally:
                await response.aclose()
    raise TooManyRedirectsError(f"more than {max_redirects} redirects", url=url)


@contextlib.contextmanager
def _translate_errors(url: str) -> Iterator[None]:
    """Turns the transport's errors into ours, once, around a whole hop."""
    try:
        yield
    except FetchError:
        raise
    except UnsafeURLError as exc:
        raise BlockedURLError(exc.reason, url=url) from exc
    except httpx.TimeoutException as exc:
        raise FetchTimeoutError(str(exc) or "timed out", url=url) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FetchConnectionError(str(exc) or type(exc).__name__, url=url) from exc


def _redirect_target(response: httpx.Response, location: str) -> str:
    try:
        return str(response.url.join(location))
    except httpx.InvalidURL as exc:
        raise BadResponseError(f"unusable Location: {exc}", url=str(response.url)) from exc


async def _read_body(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise BadResponseError(f"the server sent {encoding}-encoded media", url=url)
    declared = response.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError as exc:
            raise BadResponseError(f"bad Content-Length {declared!r}", url=url) from exc
        if length > max_bytes:
            raise MediaTooLargeError(max_bytes, url=url)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_raw():
        total += len(chunk)
        if total > max_bytes:
            raise MediaTooLargeError(max_bytes, url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(response: httpx.Response) -> str | None:
    value = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return value or None


def _filename(response: httpx.Response) -> str | None:
    name: str | None = None
    disposition = response.headers.get("content-disposition")
    if disposition:
        # The email package reads RFC 2231 (filename*=UTF-8''...) as well as plain names.
        message = email.message.Message()
        message["content-disposition"] = disposition
        name = message.get_filename()
    if not name:
        name = unquote(response.url.path.rsplit("/", 1)[-1])
    # The name comes from a stranger and may end up on disk: keep only a bare name.
    name = _UNSAFE_FILENAME_CHARS.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        return None
    return name[:_MAX_FILENAME_LENGTH]
