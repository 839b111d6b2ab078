"""The notification-channel face's Socket.IO events through python-socketio's
own client against a real uvicorn, following the seed's flow: authenticate,
subscribe, ``qr_code`` (a PNG of the QR string), a sandbox phone scans,
``connection_update`` active, send, ``message_status_update`` delivered then
read, the phone writes, ``incoming_message``; the pairing-code flow; tenancy."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import socketio
import zxingcpp
from PIL import Image
from tests.faces.channels_tools import PREFIX, Channels
from tests.live.test_events_stream import SLOW_QR

pytestmark = pytest.mark.both_databases

EVENTS = (
    "authenticated",
    "error",
    "qr_code",
    "pairing_code",
    "connection_update",
    "incoming_message",
    "message_status_update",
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # A long-polling request ends within seconds (so does a polling client's goodbye).
    return {**SLOW_QR, "socketio_ping_interval": 1.0, "socketio_ping_timeout": 3.0}


@pytest.fixture
def channels(client: httpx.AsyncClient, wait_until: Callable[..., Awaitable[None]]) -> Channels:
    return Channels(client, wait_until)


class Listener:
    """One Socket.IO client and every event it received, in order."""

    def __init__(self, transport: str) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.transport = transport
        self.received: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.seen: list[tuple[str, Any]] = []
        for name in EVENTS:
            self.sio.on(name, self._keep(name))

    def _keep(self, name: str) -> Callable[[Any], Awaitable[None]]:
        async def handler(data: Any = None) -> None:
            await self.received.put((name, data))

        return handler

    async def connect(self, base: str) -> None:
        await self.sio.connect(base, socketio_path="socket.io", transports=[self.transport])

    async def next(self, name: str, timeout: float = 15.0) -> Any:
        """The next event called ``name``; everything before it stays in ``seen``."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.received.get()
                self.seen.append(event)
                if event[0] == name:
                    return event[1]

    async def authenticate(self, api_key: str) -> dict[str, Any]:
        await self.sio.emit("authenticate", {"apiKey": api_key})
        answer: dict[str, Any] = await self.next("authenticated")
        return answer

    async def status(self, status: str) -> dict[str, Any]:
        while True:
            update: dict[str, Any] = await self.next("connection_update")
            assert set(update) <= {"channelId", "status", "timestamp", "lastDisconnect"}
            if update["status"] == status:
                return update


@pytest.fixture
async def socket_base(ws_base: str) -> str:
    return ws_base.replace("ws://", "http://")


@pytest.fixture
async def listen(socket_base: str) -> AsyncIterator[Callable[..., Awaitable[Listener]]]:
    listeners: list[Listener] = []

    async def _listen(transport: str = "websocket") -> Listener:
        listener = Listener(transport)
        await listener.connect(socket_base)
        listeners.append(listener)
        return listener

    yield _listen
    await asyncio.gather(*(listener.sio.disconnect() for listener in listeners))


def qr_text(data_url: str) -> str:
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix), data_url[:40]
    image = Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix) :])))
    assert image.format == "PNG"
    [found] = zxingcpp.read_barcodes(image)
    return str(found.text)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_the_seeds_qr_flow_over_socket_io(
    client: httpx.AsyncClient,
    user: Any,
    channels: Channels,
    session_tools: Any,
    listen: Callable[..., Awaitable[Listener]],
    transport: str,
) -> None:
    created = await channels.create(user.headers)
    channel_id = created["channelId"]
    socket = await listen(transport)
    authenticated = await socket.authenticate(user.token)
    assert authenticated["userId"] == user.id
    assert authenticated["channels"] == [channel_id]
    await socket.sio.emit("subscribe_channel", {"channelId": channel_id})
    current = await socket.next("connection_update")
    assert current["channelId"] == channel_id and current["status"] == "inactive"
    assert current["timestamp"].endswith("Z")

    await channels.connect(user.headers, channel_id)
    shown = await socket.next("qr_code")
    assert set(shown) == {"channelId", "qrCode", "timestamp"}
    assert shown["channelId"] == channel_id
    code = qr_text(shown["qrCode"])
    phone = await session_tools.phone(user.headers)
    scanned = await client.post(
        f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=user.headers
    )
    assert scanned.status_code == 200, scanned.text
    active = await socket.status("active")
    assert "lastDisconnect" not in active

    customer = await session_tools.phone(user.headers)
    sent = await channels.send(user.headers, channel_id, customer, "Hello from automated WhatsApp!")
    message_id = sent["payload"]["messageId"]
    statuses: list[str] = []
    while "delivered" not in statuses:
        update = await socket.next("message_status_update")
        assert set(update) == {"channelId", "messageId", "status", "timestamp"}
        assert update["channelId"] == channel_id and update["messageId"] == message_id
        statuses.append(update["status"])
    read = await client.post(
        f"/sandbox/v1/phones/{customer}/read",
        json={"messageIds": [message_id]},
        headers=user.headers,
    )
    assert read.status_code == 200, read.text
    assert (await socket.next("message_status_update"))["status"] == "read"
    assert statuses[-1] == "delivered" and set(statuses) <= {"sent", "delivered"}

    written = await client.post(
        f"/sandbox/v1/phones/{customer}/messages",
        json={"to": phone, "text": "Hi, is this the shop?"},
        headers=user.headers,
    )
    assert written.status_code == 201, written.text
    incoming = await socket.next("incoming_message")
    assert incoming == {
        "channelId": channel_id,
        "messageId": written.json()["data"]["messageId"],
        "from": f"{customer}@s.whatsapp.net",
        "timestamp": incoming["timestamp"],
        "message": "Hi, is this the shop?",
        "type": "incoming",
    }
    # Each event once: one QR per code shown, one "active".
    names = [name for name, _ in socket.seen]
    assert names.count("incoming_message") == 1
    assert [u["status"] for n, u in socket.seen if n == "connection_update"].count("active") == 1


async def test_the_pairing_code_flow_and_a_subscriber_that_comes_late(
    client: httpx.AsyncClient,
    user: Any,
    channels: Channels,
    session_tools: Any,
    listen: Callable[..., Awaitable[Listener]],
) -> None:
    phone = await session_tools.phone(user.headers)
    channel_id = (await channels.create(user.headers, name="Headless", phone=phone))["channelId"]
    key = (
        await client.post("/api/v1/auth/api-keys", json={"name": "bot"}, headers=user.headers)
    ).json()["data"]["key"]
    socket = await listen()
    await socket.authenticate(key)
    await socket.sio.emit("subscribe_channel", {"channelId": channel_id})
    await socket.status("inactive")
    await channels.connect(user.headers, channel_id, phone=phone)
    # The state first, then the code it shows.
    await socket.status("pairing_code_ready")
    pairing = await socket.next("pairing_code")
    assert set(pairing) == {"channelId", "code", "timestamp"}

    # Subscribing while the code waits shows it at once.
    late = await listen("polling")
    await late.authenticate(key)
    await late.sio.emit("subscribe_channel", {"channelId": channel_id})
    assert (await late.next("connection_update"))["status"] == "pairing_code_ready"
    assert (await late.next("pairing_code"))["code"] == pairing["code"]

    paired = await client.post(
        f"/sandbox/v1/phones/{phone}/pair", json={"code": pairing["code"]}, headers=user.headers
    )
    assert paired.status_code == 200, paired.text
    await socket.status("active")
    await late.status("active")

    await client.post(f"{PREFIX}/{channel_id}/disconnect", headers=user.headers)
    assert (await socket.status("inactive"))["channelId"] == channel_id


async def test_credentials_and_tenancy(
    client: httpx.AsyncClient,
    make_user: Any,
    channels: Channels,
    listen: Callable[..., Awaitable[Listener]],
) -> None:
    owner, stranger = await make_user(), await make_user()
    channel_id = (await channels.create(owner.headers))["channelId"]
    session_key = (
        await client.post("/api/v1/sessions", json={"name": "Own"}, headers=stranger.headers)
    ).json()["data"]

    # Nothing reaches a socket that has not authenticated, but the answer to its request.
    anonymous = await listen("polling")
    await anonymous.sio.emit("subscribe_channel", {"channelId": channel_id})
    refused = await anonymous.next("error")
    assert refused == {
        "event": "subscribe_channel",
        "code": "NO_TOKEN",
        "message": "Authenticate first",
    }
    await anonymous.sio.emit("authenticate", {"apiKey": "wgk_not-a-key"})
    bad = await anonymous.next("error")
    assert bad["event"] == "authenticate" and bad["code"] == "INVALID_API_KEY"
    await anonymous.sio.emit("authenticate", {})
    assert (await anonymous.next("error"))["message"] == "apiKey is required"

    # Another user's channel, by JWT or by that user's session key, is not found.
    intruders = [await listen(), await listen("polling")]
    answers = [
        await intruders[0].authenticate(stranger.token),
        await intruders[1].authenticate(session_key["apiKey"]),
    ]
    assert answers[0]["channels"] == [session_key["sessionId"]]
    assert answers[1] == {
        "userId": stranger.id,
        "kind": "session_key",
        "channels": [session_key["sessionId"]],
    }
    for intruder in intruders:
        ack = await intruder.sio.call("subscribe_channel", {"channelId": channel_id})
        assert ack == {
            "ok": False,
            "event": "subscribe_channel",
            "code": "NOT_FOUND",
            "message": "Channel not found",
        }

    # The owner's channel goes on; the intruders hear nothing of it.
    owner_socket = await listen()
    await owner_socket.authenticate(owner.token)
    await owner_socket.sio.emit("subscribe_channel", {"channelId": channel_id})
    await owner_socket.status("inactive")
    await channels.connect(owner.headers, channel_id)
    await owner_socket.next("qr_code")
    for intruder in intruders:
        leftovers = []
        while not intruder.received.empty():
            leftovers.append(intruder.received.get_nowait())
        assert [name for name, _ in leftovers] == ["error"]
    assert anonymous.received.empty()


class TestCors:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"cors_origins": ["http://frontend.test"]}

    async def test_socket_io_cors_follows_the_cors_origins_setting(
        self, client: httpx.AsyncClient
    ) -> None:
        handshake = {"EIO": "4", "transport": "polling"}
        allowed = await client.get(
            "/socket.io/", params=handshake, headers={"Origin": "http://frontend.test"}
        )
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == "http://frontend.test"
        own = await client.get(
            "/socket.io/", params=handshake, headers={"Origin": "http://wagate.test"}
        )
        assert own.status_code == 200, own.text
        other = await client.get(
            "/socket.io/", params=handshake, headers={"Origin": "http://evil.test"}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
