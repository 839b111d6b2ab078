"""A session's stored status tells the truth across a gateway restart: a stop
records ``disconnected`` with reason ``shutdown``; a start after a ``kill -9``
records the same before it resumes the session."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
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


def _poll(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Another process's state can only be polled."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def test_a_start_after_kill_records_the_drop_before_resuming(
    gateway_process: Callable[..., Any], database_settings: dict[str, str]
) -> None:
    gateway = gateway_process()
    gateway.start()
    base = gateway.base_url
    admin = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"email": "admin@example.com", "password": "admin-password-1"},
    ).json()["data"]["token"]
    headers = {"Authorization": f"Bearer {admin}"}
    session_id = httpx.post(f"{base}/api/v1/sessions", json={"name": "s"}, headers=headers).json()[
        "data"
    ]["sessionId"]
    httpx.post(f"{base}/sandbox/v1/phones", json={"phone": "15557770001"}, headers=headers)

    def status() -> dict[str, Any]:
        answer = httpx.get(f"{base}/api/v1/sessions/{session_id}/status", headers=headers)
        data: dict[str, Any] = answer.json()["data"]
        return data

    _poll("a QR", lambda: status()["state"] == "qr")
    qr = httpx.get(f"{base}/api/v1/sessions/{session_id}/qr", headers=headers).json()["data"]
    httpx.post(
        f"{base}/sandbox/v1/phones/15557770001/link", json={"qr": qr["qrCode"]}, headers=headers
    )
    _poll("connected", lambda: status()["connected"] is True)

    gateway.kill()
    gateway.start()
    _poll("connected again", lambda: status()["connected"] is True)

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
