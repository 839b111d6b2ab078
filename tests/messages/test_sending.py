"""The send service every face shares: store, wake the queue after the commit,
wait for the engine's ack; and ``require_connected`` for faces that refuse a
send on a session that is not connected."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from wagate.auth.models import User
from wagate.errors import AppError, ErrorCode
from wagate.messages import sending
from wagate.messages.models import Message
from wagate.messages.service import OutgoingSpec
from wagate.sessions import lifecycle


async def stored_messages(app: FastAPI, session_id: str) -> int:
    async with app.state.database.sessionmaker() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.session_id == uuid.UUID(session_id))
        )
        return int(count or 0)


async def submit(
    app: FastAPI, user: Any, ref: str, to: str, *, require_connected: bool
) -> sending.Submitted:
    """A send as a face makes it: one unit of work; the answer after its commit."""
    async with app.state.database.transaction() as db:
        owner = await db.get(User, uuid.UUID(user.id))
        assert owner is not None
        return await sending.submit_for(
            db,
            app.state.session_manager,
            app.state.outbound_queue,
            owner,
            ref,
            OutgoingSpec(kind="text", to=f"{to}@s.whatsapp.net", text="hello"),
            require_connected=require_connected,
        )


async def test_a_connected_session_answers_sent_and_the_phone_gets_it(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)
    submitted = await submit(app, user, linked.phone, customer, require_connected=True)
    assert submitted.is_new
    assert await submitted.status() == "sent"
    inbox = await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
    assert [m["text"] for m in inbox.json()["data"]["messages"]] == ["hello"]


async def test_require_connected_refuses_a_session_that_is_not_connected(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    stopped = await client.post(
        f"/api/v1/sessions/{linked.session_id}/disconnect", headers=user.headers
    )
    assert stopped.status_code == 200, stopped.text
    with pytest.raises(AppError) as refused:
        await submit(app, user, linked.session_id, "15550009999", require_connected=True)
    assert refused.value.code is ErrorCode.SESSION_NOT_CONNECTED
    assert refused.value.status == 409
    assert await stored_messages(app, linked.session_id) == 0

    # Without it the message waits in the queue and the answer does not wait.
    queued = await submit(app, user, linked.session_id, "15550009999", require_connected=False)
    assert await queued.status() == "queued"
    assert await stored_messages(app, linked.session_id) == 1


async def test_a_session_of_another_user_is_not_found(
    app: FastAPI, make_user: Any, session_tools: Any
) -> None:
    owner = await make_user()
    stranger = await make_user()
    linked = await session_tools.link(owner.headers)
    for ref in (linked.session_id, linked.phone):
        with pytest.raises(AppError) as refused:
            await submit(app, stranger, ref, "15550009999", require_connected=False)
        assert refused.value.code is ErrorCode.NOT_FOUND
    assert await stored_messages(app, linked.session_id) == 0


async def test_a_session_created_idle_queues_what_the_sak_route_sends(
    app: FastAPI, client: httpx.AsyncClient, user: Any
) -> None:
    async with app.state.database.transaction() as db:
        owner = await db.get(User, uuid.UUID(user.id))
        assert owner is not None
        created = await lifecycle.create(
            db, app.state.session_manager, owner, name="idle", connect=False
        )
    sent = await client.post(
        "/api/v1/messages/send",
        json={"to": "15550009999", "text": "x"},
        headers={"x-api-key": created.api_key},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"]["status"] == "queued"
    assert await stored_messages(app, str(created.session.id)) == 1
