"""A session's life on the sandbox network: QR rotation and timeout, drops and
reconnects, logouts, bans, and gateway restarts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from wagate.app import create_app
from wagate.config import Settings
from wagate.events.models import OutboxEvent

# Fast rotation only where a test waits for the attempt to time out: elsewhere a
# code could rotate between a test reading it and its phone scanning it.
FAST_QR = pytest.mark.parametrize(
    "settings_overrides", [{"sandbox_qr_interval": 0.2, "sandbox_qr_max_rotations": 3}]
)


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    return {"Authorization": f"Bearer {login.json()['data']['token']}"}


async def session_events(app: FastAPI, session_id: str, event_type: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as db:
        rows = await db.execute(
            select(OutboxEvent)
            .where(OutboxEvent.session_id == uuid.UUID(session_id), OutboxEvent.type == event_type)
            .order_by(OutboxEvent.seq)
        )
        return [row.payload for row in rows.scalars()]


@FAST_QR
async def test_qr_codes_rotate_then_the_attempt_times_out(
    app: FastAPI, user: Any, session_tools: Any
) -> None:
    session = await session_tools.create(user.headers)
    status = await session_tools.wait_state(user.headers, session["sessionId"], "disconnected")
    assert status["reason"] == "qr_timeout"
    codes = [e["qrCode"] for e in await session_events(app, session["sessionId"], "session.qr")]
    assert len(codes) == 3
    assert len(set(codes)) == 3


@FAST_QR
async def test_a_timed_out_session_gets_a_new_qr_on_request(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    session = await session_tools.create(user.headers)
    await session_tools.wait_state(user.headers, session["sessionId"], "disconnected")
    response = await client.get(f"/api/v1/sessions/{session['sessionId']}/qr", headers=user.headers)
    assert "new QR code" in response.json()["data"]["message"]
    assert await session_tools.qr(user.headers, session["sessionId"])


async def test_a_dropped_connection_comes_back_by_itself(
    app: FastAPI, user: Any, session_tools: Any, wait_until: Any
) -> None:
    linked = await session_tools.link(user.headers)
    await session_tools.fault(user.headers, kind="disconnect", sessionId=linked.session_id)

    async def back_again() -> bool:
        events = await session_events(app, linked.session_id, "session.status")
        return [e["state"] for e in events][-2:] == ["disconnected", "connected"]

    await wait_until(back_again, what="disconnected, then connected again")
    disconnected = await session_events(app, linked.session_id, "session.disconnected")
    assert disconnected[-1]["reason"] == "network"


async def test_network_down_then_up_reconnects_with_no_qr(
    client: httpx.AsyncClient, app: FastAPI, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    admin = await admin_headers(client)
    qr_before = len(await session_events(app, linked.session_id, "session.qr"))
    await session_tools.fault(admin, kind="network_down")
    status = await session_tools.wait_state(user.headers, linked.session_id, "disconnected")
    assert status["reason"] == "network"
    await session_tools.fault(admin, kind="network_up")
    status = await session_tools.wait_state(user.headers, linked.session_id, "connected")
    assert status["phoneNumber"] == linked.phone
    assert len(await session_events(app, linked.session_id, "session.qr")) == qr_before


async def test_network_faults_are_for_administrators(client: httpx.AsyncClient, user: Any) -> None:
    response = await client.post(
        "/sandbox/v1/faults", json={"kind": "network_down"}, headers=user.headers
    )
    assert response.status_code == 403


async def test_unlinking_on_the_phone_logs_the_session_out(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    response = await client.post(
        f"/sandbox/v1/phones/{linked.phone}/unlink",
        json={"sessionId": linked.session_id},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    status = await session_tools.wait_state(user.headers, linked.session_id, "logged_out")
    assert status["reason"] == "logged_out_by_phone"
    assert status["status"] == "disconnected"
    refused = await client.post(
        "/api/v1/messages/send",
        json={"to": "15550009999", "text": "x"},
        headers={"x-api-key": linked.api_key},
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "SESSION_NOT_CONNECTED"


async def test_a_ban_fails_the_session(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    await session_tools.fault(user.headers, kind="ban", sessionId=linked.session_id)
    status = await session_tools.wait_state(user.headers, linked.session_id, "failed")
    assert status["reason"] == "banned"
    restart = await client.post(
        f"/api/v1/sessions/{linked.session_id}/restart", headers=user.headers
    )
    assert restart.status_code == 409


async def test_logout_on_request_then_link_again(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    response = await client.post(
        f"/api/v1/sessions/{linked.session_id}/logout", headers=user.headers
    )
    assert response.status_code == 200
    status = await session_tools.status(user.headers, linked.session_id)
    assert (status["state"], status["reason"]) == ("logged_out", "user_request")
    await client.get(f"/api/v1/sessions/{linked.session_id}/qr", headers=user.headers)
    code = await session_tools.qr(user.headers, linked.session_id)
    scanned = await client.post(
        f"/sandbox/v1/phones/{linked.phone}/link", json={"qr": code}, headers=user.headers
    )
    assert scanned.status_code == 200
    await session_tools.wait_state(user.headers, linked.session_id, "connected")


async def test_restart_reconnects_a_linked_session(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    response = await client.post(
        f"/api/v1/sessions/{linked.session_id}/restart", headers=user.headers
    )
    assert response.status_code == 200
    await session_tools.wait_state(user.headers, linked.session_id, "connected")


async def test_a_gateway_restart_resumes_linked_sessions_without_a_qr(
    settings: Settings, app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    waiting = await session_tools.create(user.headers, "never scanned")
    await session_tools.qr(user.headers, waiting["sessionId"])
    qr_before = len(await session_events(app, linked.session_id, "session.qr"))

    # The first app is still running inside the fixture: stop its engine the way
    # a process exit would, then start a second app on the same data.
    await app.state.session_manager.close()
    second = create_app(settings)
    async with LifespanManager(second, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as other:

            async def status_of(session_id: str) -> dict[str, Any]:
                response = await other.get(
                    f"/api/v1/sessions/{session_id}/status", headers=user.headers
                )
                data: dict[str, Any] = response.json()["data"]
                return data

            signal = second.state.outbox_signal
            waiter = signal.subscribe()
            # Cleared before each look, so a commit between the look and the
            # wait is not missed (a stop now records a shutdown to come back from).
            while True:
                waiter.clear()
                if (await status_of(linked.session_id))["state"] == "connected":
                    break
                await waiter.wait()
            signal.unsubscribe(waiter)
            assert len(await session_events(second, linked.session_id, "session.qr")) == qr_before
            abandoned = await status_of(waiting["sessionId"])
            assert (abandoned["state"], abandoned["reason"]) == ("disconnected", "shutdown")
