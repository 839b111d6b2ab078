"""A property of the message status machine, over any order of reports an
engine can make (acks, receipts, failures, repeats, late ones): a message's
status only moves forward, on the real database, through the real service."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from wagate.messages import service
from wagate.messages.models import Message, MessageStatus, MessageStatusChange

# What an engine or the send worker may report for an outgoing message.
REPORTS = [s for s in MessageStatus if s is not MessageStatus.RECEIVED]
STARTS = [MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT]
RECEIPTS = {MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PLAYED}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(start=st.sampled_from(STARTS), reports=st.lists(st.sampled_from(REPORTS), max_size=8))
async def test_statuses_only_move_forward(
    app: FastAPI, user: Any, start: MessageStatus, reports: list[MessageStatus]
) -> None:
    database = app.state.database
    async with database.transaction() as db:
        session_id = await _a_session(db, uuid.UUID(user.id))
        message = Message(
            user_id=uuid.UUID(user.id),
            session_id=session_id,
            message_id=f"prop-{uuid.uuid4().hex}",
            direction="out",
            chat="15550001111@s.whatsapp.net",
            to_jid="15550001111@s.whatsapp.net",
            type="text",
            text="property",
            status=start.value,
        )
        db.add(message)
    for report in reports:
        async with database.transaction() as db:
            row = await db.get(Message, message.seq)
            assert row is not None
            before = row.message_status
            moved = await service.advance(db, row, report)
            after = row.message_status
        assert after.rank >= before.rank, f"{before} -> {after} on {report}"
        assert moved == (after is not before)
        if before is MessageStatus.FAILED:
            assert after is MessageStatus.FAILED, "failed is final"
        if after is MessageStatus.FAILED and moved:
            assert before.rank < MessageStatus.SENT.rank, "a sent message cannot fail"
    async with database.transaction() as db:
        changes = (
            await db.execute(
                select(MessageStatusChange.created_at, MessageStatusChange.status).where(
                    MessageStatusChange.message_seq == message.seq
                )
            )
        ).all()
    # Steps recorded in one call share their time (a receipt that overtook the
    # ack records sent and read at once); across calls, time orders them.
    recorded = [
        status
        for _, status in sorted(
            ((at, MessageStatus(s)) for at, s in changes), key=lambda c: (c[0], c[1].rank)
        )
    ]
    ranks = [s.rank for s in recorded]
    assert ranks == sorted(ranks), f"the log went backwards: {recorded}"
    # A receipt that overtook the ack records sent first: receivers see every step.
    for index, status in enumerate(recorded):
        if status in RECEIPTS and start.rank < MessageStatus.SENT.rank:
            assert MessageStatus.SENT in recorded[:index], recorded


async def _a_session(db: Any, user_id: uuid.UUID) -> uuid.UUID:
    from wagate.sessions.models import WhatsAppSession

    existing = await db.scalar(
        select(WhatsAppSession.id).where(WhatsAppSession.user_id == user_id).limit(1)
    )
    if existing is not None:
        return uuid.UUID(str(existing))
    session = WhatsAppSession(
        user_id=user_id,
        name="property",
        engine="sandbox",
        api_key_hash=uuid.uuid4().hex,
        api_key_last_four="abcd",
    )
    db.add(session)
    await db.flush()
    return session.id
