"""Messages an engine reports without content of their own: past messages the phone
shares with a newly linked device (history sync), and messages that could not be
decrypted. Both are stored; neither fires ``message.received``.

A history batch is stored in one go and reported by one ``history.synced``
event, however many messages it holds. An undecryptable message is kept as a
placeholder row (type ``undecryptable``) and reported as
``message.undecryptable``; when the sender's phone resends it and it decrypts,
the real message replaces the placeholder and is received as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.engines.base import HistorySyncEvent, IncomingMessage, UndecryptableEvent
from wagate.events.service import record_event
from wagate.messages import service
from wagate.messages.media import StoredMedia
from wagate.messages.models import Message
from wagate.messages.repository import ChatRepository, MessageRepository
from wagate.sessions.models import WhatsAppSession

UNDECRYPTABLE = "undecryptable"
ID_CHUNK = 500  # ids per look-up, well under every database's parameter limit

RowBuilder = Callable[[WhatsAppSession, IncomingMessage, StoredMedia | None], Message]


async def store_history(
    db: AsyncSession,
    session: WhatsAppSession,
    event: HistorySyncEvent,
    to_row: RowBuilder,
) -> None:
    """Store a batch of past messages (oldest first) that are not stored yet."""
    messages = MessageRepository(db)
    ids = [incoming.message_id for incoming in event.messages]
    known: set[str] = set()
    for start in range(0, len(ids), ID_CHUNK):
        found = await messages.many(session.id, ids[start : start + ID_CHUNK])
        known.update(message.message_id for message in found)
    stored: list[Message] = []
    newest: dict[str, tuple[IncomingMessage, Message]] = {}
    senders: dict[str, IncomingMessage] = {}
    for incoming in event.messages:
        if incoming.message_id in known:
            continue
        known.add(incoming.message_id)
        row = to_row(session, incoming, None)
        await messages.create(row, flush=False)
        stored.append(row)
        newest[incoming.chat] = (incoming, row)
        if not incoming.from_me:
            senders[incoming.sender] = incoming
    await db.flush()
    for incoming in senders.values():
        await service.touch_contact(
            db, session, incoming.sender, push_name=incoming.push_name, lid=incoming.sender_lid
        )
    chats = ChatRepository(db)
    for jid, (incoming, row) in newest.items():
        chat = await chats.get(session.id, jid)
        if chat is None or chat.last_message_at is None or chat.last_message_at <= row.timestamp:
            name = None if incoming.is_group or incoming.from_me else incoming.push_name
            await service.touch_chat(db, session, jid, row, unread=False, name=name)
    data: dict[str, Any] = {
        "kind": event.kind,
        "progress": event.progress,
        "messages": len(stored),
        "chats": len(newest),
        "oldestTimestamp": int(stored[0].timestamp.timestamp()) if stored else None,
        "newestTimestamp": int(stored[-1].timestamp.timestamp()) if stored else None,
    }
    await record_event(
        db,
        user_id=session.user_id,
        session_id=session.id,
        event_type="history.synced",
        data=data,
    )


async def store_undecryptable(
    db: AsyncSession,
    session: WhatsAppSession,
    event: UndecryptableEvent,
    to_row: RowBuilder,
) -> None:
    incoming = event.message
    messages = MessageRepository(db)
    if await messages.get(session.id, incoming.message_id) is not None:
        return
    row = to_row(session, incoming, None)
    row.type = UNDECRYPTABLE
    row.content = {"reason": event.reason}
    await messages.create(row)
    name = None if incoming.is_group else incoming.push_name
    await service.touch_chat(
        db, session, incoming.chat, row, unread=not incoming.from_me, name=name
    )
    if incoming.from_me:
        return
    await record_event(
        db,
        user_id=session.user_id,
        session_id=session.id,
        event_type="message.undecryptable",
        data={
            "messageId": incoming.message_id,
            "from": incoming.chat,
            "chat": incoming.chat,
            "isGroup": incoming.is_group,
            "participant": incoming.sender if incoming.is_group else None,
            "sender": incoming.sender,
            "senderLid": incoming.sender_lid,
            "pushName": incoming.push_name,
            "timestamp": int(incoming.timestamp.timestamp()),
            "reason": event.reason,
        },
    )


async def replace_placeholder(db: AsyncSession, existing: Message) -> bool:
    """Drop an undecryptable placeholder that its real message now replaces; whether it was
    one."""
    if existing.type != UNDECRYPTABLE:
        return False
    await db.delete(existing)
    await db.flush()
    return True
