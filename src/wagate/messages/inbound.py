"""What engines report about messages: incoming messages, receipts, group changes.

Registered with the session manager, so each runs inside the unit of work that
stores its engine event. An incoming message's media is downloaded before
that (``prepare_message``), outside any transaction and any other session's
way, and stored in the media store before the event is acknowledged.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics import service as analytics
from wagate.analytics.metrics import Metrics
from wagate.engines.base import (
    MEDIA_KINDS,
    HistorySyncEvent,
    IncomingMessage,
    MessageEvent,
    ReceiptEvent,
    UndecryptableEvent,
)
from wagate.events.service import record_event
from wagate.jid import number_of
from wagate.messages import history, service
from wagate.messages.media import MediaStore, StoredMedia
from wagate.messages.models import Message, MessageStatus
from wagate.messages.repository import MessageRepository
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.db import after_commit

logger = logging.getLogger(__name__)

# The type names of the SAK reference's payloads (Baileys' message keys), so a
# client written against it recognises them; ``messageType`` carries ours.
SAK_TYPE_NAMES = {
    "text": "conversation",
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
    "location": "locationMessage",
    "contact": "contactMessage",
    "reaction": "reactionMessage",
}

_RECEIPT_STATUS = {
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "played": MessageStatus.PLAYED,
}


@dataclass(frozen=True, slots=True)
class FetchedMessageEvent(MessageEvent):
    """A message event whose media was downloaded before its unit of work."""

    stored: StoredMedia | None = None


def media_url(public_url: str, message: Message) -> str:
    return f"{public_url}/api/v1/messages/{message.message_id}/media?sessionId={message.session_id}"


def received_payload(message: Message, public_url: str) -> dict[str, Any]:
    """The ``message.received`` payload: the reference's fields, then ours."""
    payload: dict[str, Any] = {
        "from": message.chat,
        "messageId": message.message_id,
        "timestamp": int(message.timestamp.timestamp()),
        "type": SAK_TYPE_NAMES.get(message.type, message.type),
        "text": message.text if message.type == "text" else message.caption,
        "messageType": message.type,
        "chat": message.chat,
        "isGroup": message.chat.endswith("@g.us"),
        "participant": message.participant,
        "sender": message.from_jid,
        "senderLid": message.sender_lid,
        "pushName": message.push_name,
        "quotedMessageId": message.quoted_message_id,
    }
    if message.media_sha256:
        payload["media"] = {
            "url": media_url(public_url, message),
            "mimetype": message.media_mimetype,
            "filename": message.media_filename,
            "size": message.media_size,
            "sha256": message.media_sha256,
            "caption": message.caption,
        }
    if message.content:
        payload[message.type] = message.content
    return payload


class InboundHandler:
    def __init__(
        self,
        manager: SessionManager,
        media: MediaStore,
        public_url: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.manager = manager
        self.media = media
        self.public_url = public_url.rstrip("/")
        self.metrics = metrics or Metrics()

    def register(self) -> None:
        self.manager.on_prepare(MessageEvent, self.prepare_message)
        self.manager.on_event(MessageEvent, self.on_message)
        self.manager.on_event(ReceiptEvent, self.on_receipt)
        self.manager.on_event(HistorySyncEvent, self.on_history)
        self.manager.on_event(UndecryptableEvent, self.on_undecryptable)

    async def on_history(
        self, db: AsyncSession, session: WhatsAppSession, event: HistorySyncEvent
    ) -> None:
        await history.store_history(db, session, event, self._to_row)

    async def on_undecryptable(
        self, db: AsyncSession, session: WhatsAppSession, event: UndecryptableEvent
    ) -> None:
        await history.store_undecryptable(db, session, event, self._to_row)

    async def on_message(
        self, db: AsyncSession, session: WhatsAppSession, event: MessageEvent
    ) -> None:
        incoming = event.message
        messages = MessageRepository(db)
        if incoming.edited or incoming.revoked:
            await self._change(db, session, incoming)
            return
        existing = await messages.get(session.id, incoming.message_id)
        if existing is not None and not await history.replace_placeholder(db, existing):
            return  # an engine may report a message twice (reconnects): store it once
        stored = event.stored if isinstance(event, FetchedMessageEvent) else None
        message = self._to_row(session, incoming, stored)
        await messages.create(message)
        await service.touch_contact(
            db, session, incoming.sender, push_name=incoming.push_name, lid=incoming.sender_lid
        )
        await service.touch_chat(
            db,
            session,
            incoming.chat,
            message,
            unread=not incoming.from_me,
            name=None if incoming.is_group else incoming.push_name,
        )
        if incoming.from_me:
            return
        analytics.count_received(db, user_id=session.user_id, session_id=session.id)
        kind = message.type
        after_commit(db, lambda: self.metrics.message_received(kind))
        await record_event(
            db,
            user_id=session.user_id,
            session_id=session.id,
            event_type="message.received",
            data=received_payload(message, self.public_url),
        )

    async def _change(
        self, db: AsyncSession, session: WhatsAppSession, incoming: IncomingMessage
    ) -> None:
        """An edit or a deletion of an earlier message (``message_id`` names it)."""
        original = await MessageRepository(db).get(session.id, incoming.message_id)
        if original is not None:
            if incoming.revoked:
                original.text = None
                original.caption = None
                original.content = {**(original.content or {}), "revoked": True}
            elif original.type == "text":
                original.text = incoming.text
            else:
                original.caption = incoming.text
            await db.flush()
        data: dict[str, Any] = {
            "messageId": incoming.message_id,
            "from": incoming.chat,
            "participant": incoming.sender if incoming.is_group else None,
            "timestamp": int(incoming.timestamp.timestamp()),
        }
        if incoming.edited:
            data["text"] = incoming.text
        await record_event(
            db,
            user_id=session.user_id,
            session_id=session.id,
            event_type="message.revoked" if incoming.revoked else "message.edited",
            data=data,
        )

    async def on_receipt(
        self, db: AsyncSession, session: WhatsAppSession, event: ReceiptEvent
    ) -> None:
        await service.apply_receipt(
            db,
            session,
            event.message_ids,
            _RECEIPT_STATUS[event.status],
            event.timestamp,
        )

    async def prepare_message(self, session_id: uuid.UUID, event: MessageEvent) -> MessageEvent:
        """Download the media of a new message into the media store, before the
        event's unit of work and outside any lock but its session's order."""
        incoming = event.message
        if (
            incoming.media is None
            or incoming.kind not in MEDIA_KINDS
            or incoming.edited
            or incoming.revoked
        ):
            return event
        return FetchedMessageEvent(
            event.session_id, incoming, await self._download(session_id, incoming)
        )

    async def _download(
        self, session_id: uuid.UUID, incoming: IncomingMessage
    ) -> StoredMedia | None:
        assert incoming.media is not None
        try:
            engine_name = self.manager.registry.driving(session_id)
            if engine_name is None:
                engine_name = await self._engine_of(session_id)
            if engine_name is None:
                return None  # the session is gone; the event will find no row
            engine = self.manager.engine(engine_name)
            data = await engine.download_media(str(session_id), incoming.media)
        except Exception:
            # The message still counts; its media is reported without a file.
            logger.exception("media of %s could not be downloaded", incoming.message_id)
            return None
        return await self.media.save_bytes(data)

    async def _engine_of(self, session_id: uuid.UUID) -> str | None:
        async with self.manager.database.transaction() as db:
            session = await SessionRepository(db).get_by_id(session_id)
        return session.engine if session is not None else None

    def _to_row(
        self, session: WhatsAppSession, incoming: IncomingMessage, stored: StoredMedia | None
    ) -> Message:
        content: dict[str, Any] | None = None
        if incoming.location is not None:
            loc = incoming.location
            content = {
                "latitude": loc.latitude,
                "longitude": loc.longitude,
                "name": loc.name,
                "address": loc.address,
            }
        elif incoming.contact is not None:
            content = {
                "displayName": incoming.contact.display_name,
                "vcard": incoming.contact.vcard,
            }
        elif incoming.reaction is not None:
            content = {
                "messageId": incoming.reaction.target_message_id,
                "emoji": incoming.reaction.emoji,
            }
        media = incoming.media
        is_text = incoming.kind == "text"
        return Message(
            user_id=session.user_id,
            session_id=session.id,
            message_id=incoming.message_id,
            direction="out" if incoming.from_me else "in",
            chat=incoming.chat,
            from_jid=incoming.sender,
            to_jid=session.jid if not incoming.from_me else incoming.chat,
            participant=incoming.sender if incoming.is_group else None,
            sender_lid=incoming.sender_lid,
            push_name=incoming.push_name,
            type=incoming.kind,
            text=incoming.text if is_text else None,
            caption=None if is_text else incoming.text,
            media_sha256=stored.sha256 if stored else None,
            media_mimetype=media.mimetype if media else None,
            media_filename=media.filename if media else None,
            media_size=stored.size if stored else (media.size if media else None),
            content=content,
            quoted_message_id=incoming.quoted_message_id,
            status=MessageStatus.SENT if incoming.from_me else MessageStatus.RECEIVED,
            timestamp=incoming.timestamp,
        )


def sender_number(message: Message) -> str | None:
    return number_of(message.from_jid) if message.from_jid else None
