"""A session's events over a WebSocket: current state first, then everything in order."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.both_databases
# Slow QR rotation, so a code read from the stream is still good when scanned.
SLOW_QR = {"sandbox_qr_interval": 3.0}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(SLOW_QR)


async def receive(ws: ClientConnection, timeout: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        raw = await ws.recv()
    message: dict[str, Any] = json.loads(raw)
    return message


async def receive_until(
    ws: ClientConnection, kind: str, seen: list[dict[str, Any]]
) -> dict[str, Any]:
    """The next message of type ``kind``; everything received is kept in ``seen``."""
    while True:
        message = await receive(ws)
        seen.append(message)
        if message["type"] == kind:
            return message


async def close_code(ws: ClientConnection, timeout: float = 15.0) -> tuple[int, str]:
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


def assert_png_data_url(value: str) -> None:
    prefix = "data:image/png;base64,"
    assert value.startswith(prefix)
    assert base64.b64decode(value[len(prefix) :]).startswith(b"\x89PNG")


async def test_the_stream_shows_the_qr_the_connection_and_a_message_in_order(
    client: httpx.AsyncClient, user: Any, session_tools: Any, ws_base: str
) -> None:
    created = await session_tools.create(user.headers)
    session_id = created["sessionId"]
    url = f"{ws_base}/api/v1/sessions/{session_id}/events?token={user.token}"
    async with connect(url) as ws:
        first = await receive(ws)
        assert first["type"] == "session.status"
        assert first["data"]["sessionId"] == session_id
        assert first["data"]["status"] == "pending"
        assert set(first["data"]) >= {"status", "state", "reason", "phoneNumber"}

        seen: list[dict[str, Any]] = [first]
        qr = await receive_until(ws, "session.qr", seen)
        assert qr["data"]["qrCode"]
        assert_png_data_url(qr["data"]["qrImage"])

        phone = await session_tools.phone(user.headers)
        linked = await client.post(
            f"/sandbox/v1/phones/{phone}/link",
            json={"qr": qr["data"]["qrCode"]},
            headers=user.headers,
        )
        assert linked.status_code == 200, linked.text
        connected = await receive_until(ws, "session.connected", seen)
        assert connected["data"]["phoneNumber"] == phone

        customer = await session_tools.phone(user.headers)
        said = await client.post(
            f"/sandbox/v1/phones/{customer}/messages",
            json={"to": phone, "text": "live hello"},
            headers=user.headers,
        )
        assert said.status_code == 201, said.text
        message = await receive_until(ws, "message.received", seen)
        assert message["data"]["text"] == "live hello"
        assert message["data"]["messageId"] == said.json()["data"]["messageId"]

    kinds = [m["type"] for m in seen]
    assert kinds.index("session.qr") < kinds.index("session.connected")
    assert kinds.index("session.connected") < kinds.index("message.received")
    # Nothing older than the state it follows: after "connected", no QR again.
    assert "session.qr" not in kinds[kinds.index("session.connected") :]
    statuses = [m["data"]["state"] for m in seen if m["type"] == "session.status"]
    assert statuses[-1] == "connected"
    ids = [m["data"]["id"] for m in seen if "id" in m["data"]]
    assert len(ids) == len(set(ids)), "no event is sent twice"


async def test_a_connected_session_starts_with_its_status_and_the_header_works(
    user: Any, session_tools: Any, ws_base: str
) -> None:
    linked = await session_tools.link(user.headers)
    url = f"{ws_base}/api/v1/sessions/{linked.session_id}/events"
    async with connect(url, additional_headers=user.headers) as ws:
        first = await receive(ws)
        assert first["type"] == "session.status"
        assert first["data"]["status"] == "connected"
        assert first["data"]["phoneNumber"] == linked.phone
        await session_tools.fault(user.headers, kind="disconnect", sessionId=linked.session_id)
        seen: list[dict[str, Any]] = []
        disconnected = await receive_until(ws, "session.disconnected", seen)
        assert disconnected["data"]["status"] == "disconnected"


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", 4401), ("?token=not-a-jwt", 4401)],
)
async def test_a_stream_needs_a_valid_token(
    user: Any, session_tools: Any, ws_base: str, query: str, expected: int
) -> None:
    created = await session_tools.create(user.headers)
    async with connect(f"{ws_base}/api/v1/sessions/{created['sessionId']}/events{query}") as ws:
        code, reason = await close_code(ws)
    assert code == expected
    assert reason


async def test_another_users_session_is_not_found(
    user: Any, make_user: Any, session_tools: Any, ws_base: str
) -> None:
    created = await session_tools.create(user.headers)
    other = await make_user()
    for session_id in (created["sessionId"], "not-a-uuid"):
        url = f"{ws_base}/api/v1/sessions/{session_id}/events?token={other.token}"
        async with connect(url) as ws:
            code, reason = await close_code(ws)
        assert (code, reason) == (4404, "Session not found")


@pytest.mark.parametrize("settings_overrides", [{**SLOW_QR, "live_queue_size": 1}])
async def test_a_client_that_falls_behind_is_dropped(
    client: httpx.AsyncClient, user: Any, session_tools: Any, ws_base: str
) -> None:
    created = await session_tools.create(user.headers)
    url = f"{ws_base}/api/v1/sessions/{created['sessionId']}/events?token={user.token}"
    async with connect(url) as ws:
        try:
            qr = await receive_until(ws, "session.qr", [])
        except ConnectionClosed as closed:
            # The QR's commit holds two events too (status, qr): when the outbox
            # reader hands both over before this client's sender takes the first,
            # the client is already behind there.
            assert closed.rcvd is not None, "the server closed without a close frame"
            code, reason = closed.rcvd.code, closed.rcvd.reason
        else:
            phone = await session_tools.phone(user.headers)
            await client.post(
                f"/sandbox/v1/phones/{phone}/link",
                json={"qr": qr["data"]["qrCode"]},
                headers=user.headers,
            )
            # Connecting commits two events at once (status, connected): one more
            # than this server lets a client fall behind by.
            code, reason = await close_code(ws)
    assert code == 1013
    assert "behind" in reason
