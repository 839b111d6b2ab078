"""What a session's owner reads: history, one message with its statuses, chats
with their last message, contacts; and marking a chat read. Every face (the
API, the dashboard) reads through here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.errors import AppError, ErrorCode
from wagate.messages import service
from wagate.messages.media import MediaStore
from wagate.messages.models import Chat, Contact, Message, MessageStatus, MessageStatusChange
from wagate.messages.repository import ChatRepository, ContactRepository, MessageRepository
from wagate.messages.repository import HistoryQuery as HistoryQuery  # the faces build it
from wagate.sessions.engine_calls import engine_errors
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession


@dataclass(frozen=True, slots=True)
class ChatWithLast:
    chat: Chat
    last: Message | None


@dataclass(frozen=True, slots=True)
class MessageWithHistory:
    message: Message
    changes: list[MessageStatusChange]


async def stored_media(
    db: AsyncSession, store: MediaStore, session: WhatsAppSession, message_id: str
) -> tuple[Message, Path]:
    """A message and the file of its media, which must be in the media store."""
    message = await service.get_message(db, session.id, message_id)
    if not message.media_sha256 or not store.exists(message.media_sha256):
        raise AppError(ErrorCode.NOT_FOUND, "This message has no stored media")
    return message, store.path_for(message.media_sha256)


async def history(db: AsyncSession, session: WhatsAppSession, query: HistoryQuery) -> list[Message]:
    """Newest first."""
    return await MessageRepository(db).history(session.id, query)


async def message_with_history(
    db: AsyncSession, session: WhatsAppSession, message_id: str
) -> MessageWithHistory:
    """A message and the statuses it went through (``sending`` is internal)."""
    message = await service.get_message(db, session.id, message_id)
    changes = await MessageRepository(db).status_changes(message.seq)
    return MessageWithHistory(message, [c for c in changes if c.status != MessageStatus.SENDING])


async def chats(
    db: AsyncSession, session: WhatsAppSession, *, limit: int, offset: int
) -> list[ChatWithLast]:
    """The session's chats, most recent first, each with its last message."""
    listed = await ChatRepository(db).listing(session.id, limit, offset)
    seqs = [c.last_message_seq for c in listed if c.last_message_seq is not None]
    last = {m.seq: m for m in await MessageRepository(db).by_seqs(session.id, seqs)}
    return [
        ChatWithLast(c, last.get(c.last_message_seq) if c.last_message_seq else None)
        for c in listed
    ]


@dataclass(frozen=True, slots=True)
class Conversation:
    """One chat open beside the list of chats: what a messenger screen shows."""

    chat: Chat | None  # None: nothing was said in it yet
    chats: list[ChatWithLast]
    messages: list[Message]  # newest first


async def conversation(
    db: AsyncSession, session: WhatsAppSession, jid: str, *, chat_limit: int, message_limit: int
) -> Conversation:
    return Conversation(
        chat=await ChatRepository(db).get(session.id, jid),
        chats=await chats(db, session, limit=chat_limit, offset=0),
        messages=await history(db, session, HistoryQuery(limit=message_limit, chat=jid)),
    )


async def contacts(
    db: AsyncSession, session: WhatsAppSession, *, limit: int, offset: int
) -> list[Contact]:
    return await ContactRepository(db).listing(session.id, limit, offset)


async def mark_chat_read(
    db: AsyncSession, manager: SessionManager, session: WhatsAppSession, chat_jid: str
) -> int:
    """Send read receipts for a chat's unread incoming messages and record them.
    Returns how many were marked."""
    unread = await MessageRepository(db).unread_incoming(session.id, chat_jid)
    by_sender: dict[str | None, list[str]] = {}
    for message in unread:
        by_sender.setdefault(message.participant, []).append(message.message_id)
    engine = manager.engine(session.engine)
    with engine_errors():
        for sender, ids in by_sender.items():
            await engine.mark_read(str(session.id), chat_jid, ids, sender)
    await service.mark_chat_read(db, session, chat_jid, unread)
    return len(unread)
