"""Outgoing messages and their statuses. Takes a DB session and plain values;
never commits. Statuses only move forward, and each change is stored with its
time and written to the outbox as ``message.status``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics import service as analytics
from wagate.engines.base import ContactCard, Location, MessageKind, Reaction
from wagate.errors import AppError, ErrorCode
from wagate.events.service import record_event
from wagate.jid import is_group, number_of
from wagate.messages.models import Chat, Contact, Message, MessageStatus, MessageStatusChange
from wagate.messages.repository import ChatRepository, MessageRepository
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.storage.base import utcnow
from wagate.storage.db import upsert_insert

_UNSENDABLE = (SessionState.LOGGED_OUT, SessionState.FAILED)


@dataclass(frozen=True, slots=True)
class MediaRef:
    sha256: str
    size: int
    mimetype: str
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingSpec:
    """What a client asked to send, validated."""

    kind: MessageKind
    to: str  # a full JID
    text: str | None = None
    caption: str | None = None
    media: MediaRef | None = None
    voice_note: bool = False
    location: Location | None = None
    contact: ContactCard | None = None
    reaction: Reaction | None = None
    quoted_message_id: str | None = None
    typing_delay_ms: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def content_of(spec: OutgoingSpec) -> dict[str, Any] | None:
    if spec.location is not None:
        loc = spec.location
        return {
            "latitude": loc.latitude,
            "longitude": loc.longitude,
            "name": loc.name,
            "address": loc.address,
        }
    if spec.contact is not None:
        return {"displayName": spec.contact.display_name, "vcard": spec.contact.vcard}
    if spec.reaction is not None:
        return {"messageId": spec.reaction.target_message_id, "emoji": spec.reaction.emoji}
    return None


def ensure_sendable(session: WhatsAppSession) -> None:
    if session.session_state in _UNSENDABLE:
        raise AppError(
            ErrorCode.SESSION_NOT_CONNECTED,
            f"Session is {session.state}; link it again before sending",
        )


def _same_request(message: Message, spec: OutgoingSpec) -> bool:
    """Whether ``spec`` asks for what ``message`` was stored from (endpoint and body)."""
    stored = (
        message.type,
        message.to_jid,
        message.text,
        message.caption,
        message.media_sha256,
        message.voice_note,
        message.content,
        message.quoted_message_id,
    )
    asked = (
        spec.kind,
        spec.to,
        spec.text,
        spec.caption,
        spec.media.sha256 if spec.media else None,
        spec.voice_note,
        content_of(spec),
        spec.quoted_message_id,
    )
    return stored == asked


async def enqueue(
    db: AsyncSession,
    session: WhatsAppSession,
    spec: OutgoingSpec,
    *,
    message_id: str,
    idempotency_key: str | None,
    sender_jid: str | None,
) -> tuple[Message, bool]:
    """Store an outgoing message as the tail of the session's queue. Returns the
    message and whether it is new (a repeated idempotency key returns the first)."""
    messages = MessageRepository(db)
    if idempotency_key:
        existing = await messages.by_idempotency_key(session.id, idempotency_key)
        if existing is not None:
            if not _same_request(existing, spec):
                raise AppError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This Idempotency-Key was used for a different message; use a new key",
                )
            return existing, False
    ensure_sendable(session)
    now = utcnow()
    message = Message(
        user_id=session.user_id,
        session_id=session.id,
        message_id=message_id,
        direction="out",
        chat=spec.to,
        from_jid=sender_jid,
        to_jid=spec.to,
        type=spec.kind,
        text=spec.text,
        caption=spec.caption,
        media_sha256=spec.media.sha256 if spec.media else None,
        media_mimetype=spec.media.mimetype if spec.media else None,
        media_filename=spec.media.filename if spec.media else None,
        media_size=spec.media.size if spec.media else None,
        voice_note=spec.voice_note,
        content=content_of(spec),
        quoted_message_id=spec.quoted_message_id,
        status=MessageStatus.QUEUED,
        typing_delay_ms=(
            spec.typing_delay_ms if spec.typing_delay_ms is not None else session.typing_delay_ms
        ),
        idempotency_key=idempotency_key,
        timestamp=now,
        created_at=now,
    )
    await messages.create(message)
    db.add(
        MessageStatusChange(message_seq=message.seq, status=MessageStatus.QUEUED, created_at=now)
    )
    await touch_chat(db, session, spec.to, message, unread=False)
    return message, True


async def touch_chat(
    db: AsyncSession,
    session: WhatsAppSession,
    jid: str,
    message: Message,
    *,
    unread: bool,
    name: str | None = None,
) -> Chat:
    chats = ChatRepository(db)
    chat = await chats.get(session.id, jid)
    if chat is None:
        # Concurrent sends to a new chat all find none; inserting only if still
        # missing keeps all but the first from failing on the unique (session, jid).
        dialect = db.get_bind().dialect.name
        insert = upsert_insert(dialect)
        await db.execute(
            insert(Chat)
            .values(
                user_id=session.user_id,
                session_id=session.id,
                jid=jid,
                is_group=is_group(jid),
                name=name,
                unread_count=0,
            )
            .on_conflict_do_nothing(index_elements=["session_id", "jid"])
        )
        chat = await chats.get(session.id, jid)
        assert chat is not None
    elif name and not chat.is_group:
        chat.name = name
    chat.last_message_seq = message.seq
    chat.last_message_at = message.timestamp
    if unread:
        chat.unread_count += 1
    await db.flush()
    return chat


async def touch_contact(
    db: AsyncSession,
    session: WhatsAppSession,
    jid: str,
    *,
    push_name: str | None,
    lid: str | None = None,
) -> None:
    if is_group(jid) or not jid.endswith("@s.whatsapp.net"):
        return
    # One statement (an upsert) instead of a read and a write: this runs for
    # every incoming message.
    now = utcnow()
    dialect = db.get_bind().dialect.name
    insert = upsert_insert(dialect)
    statement = insert(Contact).values(
        id=uuid.uuid4(),
        user_id=session.user_id,
        session_id=session.id,
        jid=jid,
        phone_number=number_of(jid),
        push_name=push_name,
        lid=lid,
        first_seen_at=now,
        last_seen_at=now,
    )
    excluded = statement.excluded
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id", "jid"],
            set_={
                "last_seen_at": excluded.last_seen_at,
                "push_name": func.coalesce(func.nullif(excluded.push_name, ""), Contact.push_name),
                "lid": func.coalesce(func.nullif(excluded.lid, ""), Contact.lid),
            },
        )
    )


def status_payload(message: Message, status: MessageStatus, reason: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "messageId": message.message_id,
        "to": message.to_jid or message.chat,
        "chat": message.chat,
        "status": status.public,
        "timestamp": int(utcnow().timestamp()),
    }
    if reason:
        payload["error"] = reason
    return payload


async def advance(
    db: AsyncSession,
    message: Message,
    status: MessageStatus,
    *,
    at: datetime | None = None,
    reason: str | None = None,
) -> bool:
    """Move a message forward to ``status``; a step backwards is ignored. A jump
    from the queue straight to delivered or read records ``sent`` first, so
    receivers always see the whole path."""
    # Lock the row and read its status afresh: the send worker and a receipt
    # may both move the same message at once (a receipt can beat the ack).
    await db.execute(update(Message).where(Message.seq == message.seq).values(updated_at=utcnow()))
    await db.refresh(message)
    current = message.message_status
    if current in (MessageStatus.FAILED, MessageStatus.RECEIVED) or status.rank <= current.rank:
        return False
    if status is MessageStatus.FAILED and current.rank >= MessageStatus.SENT.rank:
        return False
    when = at or utcnow()
    analytics.count_status_change(
        db, user_id=message.user_id, session_id=message.session_id, before=current, after=status
    )
    receipt = status in (MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PLAYED)
    if receipt and current.rank < MessageStatus.SENT.rank:
        await _record_status(db, message, MessageStatus.SENT, when, None)
    await _record_status(db, message, status, when, reason)
    await db.flush()
    return True


async def _record_status(
    db: AsyncSession,
    message: Message,
    status: MessageStatus,
    when: datetime,
    reason: str | None,
) -> None:
    message.status = status
    message.updated_at = when
    if status is MessageStatus.SENT:
        message.sent_at = message.sent_at or when
    elif status is MessageStatus.DELIVERED:
        message.delivered_at = message.delivered_at or when
    elif status in (MessageStatus.READ, MessageStatus.PLAYED):
        message.delivered_at = message.delivered_at or when
        message.read_at = message.read_at or when
    elif status is MessageStatus.FAILED:
        message.failed_at = when
        message.error = reason
    if message.first_status is None and status in (MessageStatus.SENT, MessageStatus.FAILED):
        message.first_status = status
    db.add(
        MessageStatusChange(message_seq=message.seq, status=status, reason=reason, created_at=when)
    )
    if status is MessageStatus.SENDING:
        return
    await record_event(
        db,
        user_id=message.user_id,
        session_id=message.session_id,
        event_type="message.status",
        data=status_payload(message, status, reason),
    )


async def apply_receipt(
    db: AsyncSession,
    session: WhatsAppSession,
    message_ids: tuple[str, ...],
    status: MessageStatus,
    at: datetime,
) -> int:
    """Receipts for our outgoing messages; returns how many moved."""
    moved = 0
    for message in await MessageRepository(db).many(session.id, message_ids):
        if message.direction == "out" and await advance(db, message, status, at=at):
            moved += 1
    return moved


async def requeue(db: AsyncSession, message: Message, *, retry_at: datetime, reason: str) -> None:
    """A temporary failure: the message stays at the head of the queue. (Its
    ``attempts`` already counts this try: the queue counts each hand-over to the
    engine when it marks the message ``sending``.)"""
    message.status = MessageStatus.QUEUED
    message.next_attempt_at = retry_at
    message.error = reason
    await db.flush()


async def get_message(db: AsyncSession, session_id: uuid.UUID, message_id: str) -> Message:
    message = await MessageRepository(db).get(session_id, message_id)
    if message is None:
        raise AppError(ErrorCode.NOT_FOUND, "Message not found")
    return message


async def mark_chat_read(
    db: AsyncSession, session: WhatsAppSession, chat_jid: str, messages: list[Message]
) -> None:
    """Record that we read these incoming messages (the engine sent the receipts)."""
    now = utcnow()
    for message in messages:
        message.read_at = now
    chat = await ChatRepository(db).get(session.id, chat_jid)
    if chat is not None:
        chat.unread_count = 0
    await db.flush()
