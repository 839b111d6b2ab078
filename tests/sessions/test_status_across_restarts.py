"""A session's stored status tells the truth across a gateway restart: a stop
records ``disconnected`` with reason ``shutdown``; a start after a ``kill -9``
records the same before it resumes the session."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from wagate.events.models import OutboxEvent
from wagate.sessions.models import SessionTransition
from wagate.storage.db import Database

pytestmark = pytest.mark.both_databases


async def test_a_graceful_stop_records_disconnected_with_reason_shutdown(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    idle = await session_tools.create(user.headers, "idle")

    await app.state.session_manager.close()  # what the lifespan's shut-down runs

    status = await session_tools.status(user.headers, linked.session_id)
    assert (status["connected"], status["state"], status["reason"]) == (
        False,
        "disconnected",
        "shutdown",
    )
    async with app.state.database.sessionmaker() as db:
        events = await db.execute(
            select(OutboxEvent.type).where(
                OutboxEvent.session_id == uuid.UUID(linked.session_id),
                OutboxEvent.type == "session.disconnected",
            )
        )
        assert events.scalars().all() == ["session.disconnected"]
    # A session that was never linked is left as it was.
    assert (await session_tools.status(user.headers, idle["sessionId"]))["reason"] != "shutdown"


async def _poll(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Another process's state can only be polled."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_start_after_kill_records_the_drop_before_resuming(
    gateway_process: Callable[..., Any], database_settings: dict[str, str]
) -> None:
    gateway = gateway_process()
    gateway.start()
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        login = await http.post(
            "/api/v1/auth/login",
            json={"email": "admin@example.com", "password": "admin-password-1"},
        )
        headers = {"Authorization": f"Bearer {login.json()['data']['token']}"}
        created = await http.post("/api/v1/sessions", json={"name": "s"}, headers=headers)
        session_id = created.json()["data"]["sessionId"]
        await http.post("/sandbox/v1/phones", json={"phone": "15557770001"}, headers=headers)

        async def status() -> dict[str, Any]:
            answer = await http.get(f"/api/v1/sessions/{session_id}/status", headers=headers)
            data: dict[str, Any] = answer.json()["data"]
            return data

        async def connected() -> bool:
            return (await status())["connected"] is True

        async def showing_qr() -> bool:
            return (await status())["state"] == "qr"

        await _poll("a QR", showing_qr)
        qr = await http.get(f"/api/v1/sessions/{session_id}/qr", headers=headers)
        await http.post(
            "/sandbox/v1/phones/15557770001/link",
            json={"qr": qr.json()["data"]["qrCode"]},
            headers=headers,
        )
        await _poll("connected", connected)

        gateway.kill()
        gateway.start()
        await _poll("connected again", connected)

    database = Database(
        database_settings["database_url"], schema=database_settings.get("database_schema")
    )
    try:
        async with database.sessionmaker() as db:
            rows = await db.execute(
                select(SessionTransition.to_state, SessionTransition.reason)
                .where(SessionTransition.session_id == uuid.UUID(session_id))
                .order_by(SessionTransition.created_at)
            )
            history = [tuple(row) for row in rows]
    finally:
        await database.dispose()
    assert history[-2:] == [("disconnected", "shutdown"), ("connected", None)], history
