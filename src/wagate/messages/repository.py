from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from wagate.messages.models import Chat, Contact, Message, MessageStatus, MessageStatusChange
from wagate.storage.repository import RepositoryBase

PENDING_STATUSES = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A page of a session's messages, newest first, with optional filters."""

    limit: int
    offset: int = 0
    direction: str | None = None
    chat: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class MessageRepository(RepositoryBase[Message]):
    model = Message

    def of_session(self, session_id: uuid.UUID) -> Select[Message]:
        """Every read of a session's messages starts here; the session itself was
        resolved through its owner's scope."""
        return self.base_statement().where(Message.session_id == session_id)

    async def get(self, session_id: uuid.UUID, message_id: str) -> Message | None:
        return await self.get_one_or_none(
            self.of_session(session_id).where(Message.message_id == message_id)
        )

    async def by_idempotency_key(self, session_id: uuid.UUID, key: str) -> Message | None:
        return await self.get_one_or_none(
            self.of_session(session_id).where(Message.idempotency_key == key)
        )

    async def many(self, session_id: uuid.UUID, message_ids: Sequence[str]) -> list[Message]:
        statement = self.of_session(session_id).where(Message.message_id.in_(list(message_ids)))
        return list(await self.get_all(statement))

    async def next_pending(self, session_id: uuid.UUID, limit: int) -> list[Message]:
        """The head of a session's send queue, in order."""
        statement = (
            self.of_session(session_id)
            .where(Message.direction == "out", Message.status.in_(PENDING_STATUSES))
            .order_by(Message.seq)
            .limit(limit)
        )
        return list(await self.get_all(statement))

    async def by_seqs(self, session_id: uuid.UUID, seqs: Sequence[int]) -> list[Message]:
        if not seqs:
            return []
        return list(
            await self.get_all(self.of_session(session_id).where(Message.seq.in_(list(seqs))))
        )

    async def sessions_with_pending(self) -> list[uuid.UUID]:
        statement = (
            select(Message.session_id)
            .where(Message.direction == "out", Message.status.in_(PENDING_STATUSES))
            .distinct()
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def history(self, session_id: uuid.UUID, query: HistoryQuery) -> list[Message]:
        statement = self.of_session(session_id)
        if query.direction:
            statement = statement.where(Message.direction == query.direction)
        if query.chat:
            statement = statement.where(Message.chat == query.chat)
        if query.status:
            status = query.status
            statuses = [status, MessageStatus.SENDING.value] if status == "queued" else [status]
            statement = statement.where(Message.status.in_(statuses))
        if query.since:
            statement = statement.where(Message.created_at >= query.since)
        if query.until:
            statement = statement.where(Message.created_at < query.until)
        statement = statement.order_by(Message.seq.desc()).limit(query.limit).offset(query.offset)
        return list(await self.get_all(statement))

    async def status_changes(self, message_seq: int) -> list[MessageStatusChange]:
        statement = (
            select(MessageStatusChange)
            .where(MessageStatusChange.message_seq == message_seq)
            .order_by(MessageStatusChange.created_at)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def unread_incoming(self, session_id: uuid.UUID, chat: str) -> list[Message]:
        statement = self.of_session(session_id).where(
            Message.chat == chat,
            Message.direction == "in",
            Message.read_at.is_(None),
        )
        return list(await self.get_all(statement))


class ChatRepository(RepositoryBase[Chat]):
    model = Chat

    def of_session(self, session_id: uuid.UUID) -> Select[Chat]:
        return self.base_statement().where(Chat.session_id == session_id)

    async def get(self, session_id: uuid.UUID, jid: str) -> Chat | None:
        return await self.get_one_or_none(self.of_session(session_id).where(Chat.jid == jid))

    async def listing(self, session_id: uuid.UUID, limit: int, offset: int) -> list[Chat]:
        statement = (
            self.of_session(session_id)
            .order_by(Chat.last_message_at.desc().nulls_last())
            .limit(limit)
            .offset(offset)
        )
        return list(await self.get_all(statement))


class ContactRepository(RepositoryBase[Contact]):
    model = Contact

    def of_session(self, session_id: uuid.UUID) -> Select[Contact]:
        return self.base_statement().where(Contact.session_id == session_id)

    async def get(self, session_id: uuid.UUID, jid: str) -> Contact | None:
        return await self.get_one_or_none(self.of_session(session_id).where(Contact.jid == jid))

    async def listing(self, session_id: uuid.UUID, limit: int, offset: int) -> list[Contact]:
        statement = (
            self.of_session(session_id)
            .order_by(Contact.last_seen_at.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(await self.get_all(statement))
