"""A real HTTP receiver on loopback (uvicorn on a free port) that records every
request it is sent and answers as the test tells it to."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def event(self) -> str:
        return self.headers["x-webhook-event"]


Answer = tuple[int, dict[str, str]]


@dataclass
class Receiver:
    """Answers 200 unless ``answers`` (a queue of statuses, used up in order) or
    ``answer`` (a function of the request) say otherwise."""

    port: int = field(default_factory=free_port)
    received: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    answers: list[Answer] = field(default_factory=list)
    answer: Callable[[Received], Answer] | None = None
    hangups: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    _server: uvicorn.Server | None = None
    _broken: asyncio.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request = Received(scope["path"], headers, body)
        if self.answers:
            status, extra = self.answers.pop(0)
        elif self.answer is not None:
            status, extra = self.answer(request)
        else:
            status, extra = 200, {}
        self.received.put_nowait(request)
        raw_headers = [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async def start(self) -> None:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)  # uvicorn has no event to await for "listening"

    async def start_broken(self) -> None:
        """Listen on the port but hang up on every request without an answer (a
        crashing server); each hang-up is put on ``hangups``."""

        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.close()
            self.hangups.put_nowait(None)

        self._broken = await asyncio.start_server(hang_up, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._broken is not None:
            self._broken.close()
            await self._broken.wait_closed()
            self._broken = None
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def next(self, timeout: float = 15.0) -> Received:
        try:
            async with asyncio.timeout(timeout):
                return await self.received.get()
        except TimeoutError:
            raise AssertionError(f"the receiver got nothing in {timeout}s") from None

    async def until(self, event: str, timeout: float = 15.0) -> Received:
        """The next request for ``event``, passing over others."""
        async with asyncio.timeout(timeout):
            while True:
                request = await self.next(timeout)
                if request.event == event:
                    return request

    async def nothing_for(self, seconds: float) -> None:
        """Assert that no request arrives within ``seconds`` (a bounded negative check)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                request = await self.received.get()
                raise AssertionError(f"unexpected request: {request.event} {request.body[:200]!r}")


@pytest.fixture
async def make_receiver() -> AsyncIterator[Callable[..., Receiver]]:
    """Receivers to start (and restart) by hand; all stopped at the end."""
    made: list[Receiver] = []

    def _make(**fields: Any) -> Receiver:
        made.append(Receiver(**fields))
        return made[-1]

    yield _make
    for server in made:
        await server.stop()


@pytest.fixture
async def receiver(make_receiver: Callable[..., Receiver]) -> Receiver:
    server = make_receiver()
    await server.start()
    return server


class Hooks:
    """The webhook API as the tests use it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def create(
        self,
        headers: dict[str, str],
        session_id: str,
        url: str,
        events: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/webhooks",
            json={"sessionId": session_id, "url": url, "events": events or ["*"], **extra},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def get(self, headers: dict[str, str], webhook_id: str) -> dict[str, Any]:
        response = await self.client.get("/api/v1/webhooks", headers=headers)
        assert response.status_code == 200, response.text
        [found] = [w for w in response.json()["data"]["webhooks"] if w["id"] == webhook_id]
        return dict(found)

    async def deliveries(
        self, headers: dict[str, str], webhook_id: str, **params: Any
    ) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/api/v1/webhooks/{webhook_id}/deliveries", params=params, headers=headers
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]["deliveries"]
        return found

    @staticmethod
    def assert_signed(request: Received, secret: str, *, secret_header: bool = True) -> None:
        """Check both signatures by hand with hmac (not with wagate's own helpers)."""
        headers = request.headers
        assert headers["content-type"] == "application/json"
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert headers["x-webhook-signature"] == f"sha256={expected}"
        assert headers["x-webhook-event"] == request.json["event"]
        if secret_header:
            assert headers["x-webhook-secret"] == secret
        else:
            assert "x-webhook-secret" not in headers
        # Standard Webhooks: HMAC of "id.timestamp.body", keyed by the base64 after whsec_.
        assert headers["webhook-id"] == request.json["id"]
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
        digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert f"v1,{digest}" in headers["webhook-signature"].split()


Check = Callable[[], Awaitable[bool]]
Eventually = Callable[..., Awaitable[None]]


async def _eventually(check: Check, what: str, timeout: float = 20.0) -> None:
    """For state that changes without an outbox event (a delivery's result), or in
    another process (whose commits wake nothing here): look again every 0.1 s."""
    for _ in range(int(timeout * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def eventually() -> Eventually:
    return _eventually


@pytest.fixture
def hooks(client: httpx.AsyncClient) -> Hooks:
    return Hooks(client)


# Text from the customer's sandbox phone to the linked session.
@pytest.fixture
def say(client: httpx.AsyncClient, user: Any, linked: Any, customer: str) -> Any:
    async def _say(text: str) -> None:
        response = await client.post(
            f"/sandbox/v1/phones/{customer}/messages",
            json={"to": linked.phone, "text": text},
            headers=user.headers,
        )
        assert response.status_code == 201, response.text

    return _say
