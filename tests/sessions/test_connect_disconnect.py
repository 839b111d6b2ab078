"""The lifecycle every face shares: a session created idle, connected on request,
and disconnected until someone connects it again (through app restarts and the
keep-alive sweep); sessions found by number; waiting for the first QR code."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from wagate.app import create_app
from wagate.auth.models import User
from wagate.config import Settings
from wagate.engines.base import DisconnectedEvent, DisconnectReason
from wagate.errors import AppError, ErrorCode
from wagate.events.models import OutboxEvent
from wagate.sessions import lifecycle


async def qr_events(app: FastAPI, session_id: str) -> int:
    async with app.state.database.sessionmaker() as db:
        rows = await db.execute(
            select(OutboxEvent).where(
                OutboxEvent.session_id == uuid.UUID(session_id), OutboxEvent.type == "session.qr"
            )
        )
        return len(rows.scalars().all())


async def create_idle(
    client: httpx.AsyncClient, headers: dict[str, str], phone: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Idle", "connect": False}
    if phone:
        body["phoneNumber"] = phone
    response = await client.post("/api/v1/sessions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def disconnect(
    client: httpx.AsyncClient, headers: dict[str, str], session_id: str
) -> dict[str, Any]:
    response = await client.post(f"/api/v1/sessions/{session_id}/disconnect", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_a_session_created_idle_links_only_once_connected(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    idle = await create_idle(client, user.headers)
    assert (idle["state"], idle["message"]) == ("pending", "Connect it to link a phone")
    # A session created the usual way, after it, shows its QR; the idle one shows none.
    linking = await session_tools.create(user.headers)
    await session_tools.qr(user.headers, linking["sessionId"])
    assert (await session_tools.status(user.headers, idle["sessionId"]))["state"] == "pending"
    assert await qr_events(app, idle["sessionId"]) == 0

    response = await client.post(
        f"/api/v1/sessions/{idle['sessionId']}/connect", headers=user.headers
    )
    assert response.status_code == 200, response.text
    code = await session_tools.qr(user.headers, idle["sessionId"])
    phone = await session_tools.phone(user.headers)
    scanned = await client.post(
        f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=user.headers
    )
    assert scanned.status_code == 200, scanned.text
    await session_tools.wait_state(user.headers, idle["sessionId"], "connected")


async def test_wait_for_qr_returns_the_first_code_once_connect_is_committed(
    app: FastAPI, client: httpx.AsyncClient, user: Any
) -> None:
    idle = await create_idle(client, user.headers)
    session_id = uuid.UUID(idle["sessionId"])
    database = app.state.database

    waited = await lifecycle.wait_for_qr(database, session_id, 0.2)
    assert waited is not None
    assert (waited.state, waited.qr_code) == ("pending", None)

    response = await client.post(f"/api/v1/sessions/{session_id}/connect", headers=user.headers)
    assert response.status_code == 200, response.text
    shown = await lifecycle.wait_for_qr(database, session_id, 10)
    assert shown is not None
    assert shown.state == "qr"
    assert shown.qr_code
    qr = await client.get(f"/api/v1/sessions/{session_id}/qr", headers=user.headers)
    assert qr.json()["data"]["qrCode"] == shown.qr_code


async def test_disconnect_stops_a_linked_session_until_it_is_connected(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    data = await disconnect(client, user.headers, linked.session_id)
    assert (data["status"], data["state"], data["reason"]) == (
        "disconnected",
        "stopped",
        "user_request",
    )
    # Messages wait while it is stopped.
    sent = await client.post(
        "/api/v1/messages/send",
        json={"to": linked.phone, "text": "later"},
        headers={"x-api-key": linked.api_key},
    )
    assert sent.json()["data"]["status"] == "queued"

    again = await client.post(f"/api/v1/sessions/{linked.session_id}/connect", headers=user.headers)
    assert again.status_code == 200, again.text
    status = await session_tools.wait_state(user.headers, linked.session_id, "connected")
    assert status["reason"] is None


@pytest.mark.parametrize("settings_overrides", [{"keepalive_seconds": 0.05}])
async def test_the_keepalive_sweep_leaves_a_stopped_session_alone(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    stopped = await session_tools.link(user.headers, "stopped")
    dropped = await session_tools.link(user.headers, "dropped")
    await disconnect(client, user.headers, stopped.session_id)
    # The engine reports a drop it would retry itself, and then never does:
    # only the sweep brings this one back.
    manager = app.state.session_manager
    await manager.handle_event(
        DisconnectedEvent(dropped.session_id, DisconnectReason.NETWORK, will_retry=True)
    )
    assert (await session_tools.status(user.headers, dropped.session_id))["state"] == (
        "disconnected"
    )
    await session_tools.wait_state(user.headers, dropped.session_id, "connected")

    status = await session_tools.status(user.headers, stopped.session_id)
    assert (status["state"], status["reconnecting"]) == ("stopped", False)


async def test_a_stopped_session_stays_stopped_across_a_gateway_restart(
    settings: Settings, app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    stopped = await session_tools.link(user.headers, "stopped")
    resumed = await session_tools.link(user.headers, "resumed")
    await disconnect(client, user.headers, stopped.session_id)

    await app.state.session_manager.close()
    second = create_app(settings)
    async with LifespanManager(second, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as other:

            async def state_of(session_id: str) -> str:
                response = await other.get(
                    f"/api/v1/sessions/{session_id}/status", headers=user.headers
                )
                state: str = response.json()["data"]["state"]
                return state

            signal = second.state.outbox_signal

            async def wait_connected(session_id: str) -> None:
                # Cleared before each look, so a commit between the look and
                # the wait still wakes it.
                waiter = signal.subscribe()
                try:
                    while True:
                        waiter.clear()
                        if await state_of(session_id) == "connected":
                            return
                        await asyncio.wait_for(waiter.wait(), 30)
                finally:
                    signal.unsubscribe(waiter)

            await wait_connected(resumed.session_id)
            assert await state_of(stopped.session_id) == "stopped"

            connect = await other.post(
                f"/api/v1/sessions/{stopped.session_id}/connect", headers=user.headers
            )
            assert connect.status_code == 200, connect.text
            await wait_connected(stopped.session_id)
            assert await qr_events(second, stopped.session_id) == 1  # the first link's only


async def test_a_failed_session_cannot_connect(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    await session_tools.fault(user.headers, kind="ban", sessionId=linked.session_id)
    await session_tools.wait_state(user.headers, linked.session_id, "failed")
    response = await client.post(
        f"/api/v1/sessions/{linked.session_id}/connect", headers=user.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


async def test_a_session_is_found_by_its_number_within_its_owner_only(
    app: FastAPI, client: httpx.AsyncClient, make_user: Any, session_tools: Any
) -> None:
    owner = await make_user()
    stranger = await make_user()
    declared = await create_idle(client, owner.headers, phone="+1 555 010 2030")
    linked = await session_tools.link(owner.headers)
    invalid = await client.post(
        "/api/v1/sessions",
        json={"name": "x", "connect": False, "phoneNumber": "not a number"},
        headers=owner.headers,
    )
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "VALIDATION_ERROR"

    async with app.state.database.transaction() as db:
        owner_row = await db.get(User, uuid.UUID(owner.id))
        stranger_row = await db.get(User, uuid.UUID(stranger.id))
        assert owner_row is not None and stranger_row is not None
        by_declared = await lifecycle.find(db, owner_row, "15550102030")
        by_linked = await lifecycle.find(db, owner_row, f"+{linked.phone}")
        by_id = await lifecycle.find(db, owner_row, linked.session_id)
        assert str(by_declared.id) == declared["sessionId"]
        assert str(by_linked.id) == linked.session_id
        assert by_id is by_linked
        for ref in ("15550102030", linked.phone, linked.session_id, "nonsense"):
            with pytest.raises(AppError) as refused:
                await lifecycle.find(db, stranger_row, ref)
            assert refused.value.code is ErrorCode.NOT_FOUND
