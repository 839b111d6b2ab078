"""What the sandbox network is made of: phones, groups, messages, and its error."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from wagate.engines import base
from wagate.engines.base import ContactCard, Location, MessageKind, Reaction
from wagate.engines.sandbox import codec
from wagate.jid import is_group, user_jid

Direction = Literal["in", "out"]
# An outgoing copy moves sent → delivered → read; an incoming one is "pending"
# until the phone is online to receive it, then delivered → read.
MessageStatus = Literal["pending", "sent", "delivered", "read"]
STATUS_RANK: dict[str, int] = {"pending": 0, "sent": 1, "delivered": 2, "read": 3}
AUTO_REPLY_MODES = frozenset({"echo"})


class SandboxError(Exception):
    """Bad input to a control operation. ``code`` is one of the app's error codes
    (VALIDATION_ERROR, NOT_FOUND, CONFLICT, FORBIDDEN, SERVICE_UNAVAILABLE)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def invalid(cls, message: str) -> SandboxError:
        return cls("VALIDATION_ERROR", message, 400)

    @classmethod
    def not_found(cls, message: str) -> SandboxError:
        return cls("NOT_FOUND", message, 404)

    @classmethod
    def conflict(cls, message: str) -> SandboxError:
        return cls("CONFLICT", message, 409)

    @classmethod
    def forbidden(cls, message: str) -> SandboxError:
        return cls("FORBIDDEN", message, 403)

    @classmethod
    def unavailable(cls, message: str) -> SandboxError:
        return cls("SERVICE_UNAVAILABLE", message, 503)


@dataclass(slots=True)
class Phone:
    number: str
    name: str
    online: bool = True
    auto_read: bool = False
    auto_reply: str | None = None
    banned: bool = False
    created_at: float = field(default_factory=time.time)
    # A business account's verified name (number checks report it).
    business_name: str | None = None


@dataclass(slots=True)
class Group:
    jid: str
    name: str
    owner: str
    participants: dict[str, bool]  # number → is admin
    topic: str | None = None
    created_at: float = field(default_factory=time.time)

    def info(self) -> base.GroupInfo:
        return base.GroupInfo(
            jid=self.jid,
            name=self.name,
            owner=user_jid(self.owner),
            topic=self.topic,
            participants=tuple(
                base.GroupParticipant(
                    jid=user_jid(number), is_admin=admin, is_super_admin=number == self.owner
                )
                for number, admin in self.participants.items()
            ),
            created_at=datetime.fromtimestamp(self.created_at, UTC),
        )


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Media kept by the network, addressed by the sha256 of its bytes."""

    sha256: str
    mimetype: str
    size: int
    filename: str | None = None
    voice_note: bool = False


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What was said, shared by every copy of a message."""

    kind: MessageKind
    text: str | None = None  # body of a text message, caption of a media one
    media: MediaRef | None = None
    location: Location | None = None
    contact: ContactCard | None = None
    reaction: Reaction | None = None
    quoted_message_id: str | None = None


@dataclass(slots=True)
class StoredMessage:
    """One phone's copy of a message. A message to a group has one copy per member."""

    message_id: str
    direction: Direction
    sender: str  # number
    recipient: str  # number, or the group JID
    chat: str  # the conversation as this phone sees it
    content: MessageContent
    timestamp: float
    status: str = "sent"
    sender_name: str | None = None
    auto_reply: bool = False
    # On the sender's copy: who has not yet received / read it.
    awaiting_delivery: set[str] = field(default_factory=set)
    awaiting_read: set[str] = field(default_factory=set)

    def advance(self, status: str) -> bool:
        """Move the status forward only; say whether it moved."""
        if STATUS_RANK[status] <= STATUS_RANK[self.status]:
            return False
        self.status = status
        return True

    def as_incoming(self, *, from_me: bool) -> base.IncomingMessage:
        content = self.content
        media = content.media
        return base.IncomingMessage(
            message_id=self.message_id,
            chat=self.chat,
            sender=user_jid(self.sender),
            timestamp=datetime.fromtimestamp(self.timestamp, UTC),
            kind=content.kind,
            from_me=from_me,
            push_name=self.sender_name,
            text=content.text,
            media=None
            if media is None
            else base.IncomingMedia(
                mimetype=media.mimetype,
                size=media.size,
                sha256=media.sha256,
                filename=media.filename,
                reference=media.sha256,
            ),
            location=content.location,
            contact=content.contact,
            reaction=content.reaction,
            quoted_message_id=content.quoted_message_id,
        )

    def as_dict(self) -> dict[str, Any]:
        """The shape the control API lists."""
        content = self.content
        media = content.media
        is_media = media is not None
        return {
            "messageId": self.message_id,
            "direction": self.direction,
            "from": self.sender,
            "fromName": self.sender_name,
            "to": self.recipient,
            "chat": self.chat,
            "isGroup": is_group(self.chat),
            "type": content.kind,
            "text": None if is_media else content.text,
            "caption": content.text if is_media else None,
            "mimetype": media.mimetype if media else None,
            "filename": media.filename if media else None,
            "size": media.size if media else None,
            "sha256": media.sha256 if media else None,
            "location": _location_dict(content.location),
            "contact": _contact_dict(content.contact),
            "reaction": _reaction_dict(content.reaction),
            "quotedMessageId": content.quoted_message_id,
            "autoReply": self.auto_reply,
            "status": self.status,
            "timestamp": int(self.timestamp),
            "timestampMs": int(self.timestamp * 1000),
        }


def phone_dict(phone: Phone, linked_sessions: list[tuple[str, bool]]) -> dict[str, Any]:
    """The shape the control API shows; ``linked_sessions`` is (session id, connected)."""
    return {
        "number": phone.number,
        "jid": user_jid(phone.number),
        "name": phone.name,
        "online": phone.online,
        "autoRead": phone.auto_read,
        "autoReply": phone.auto_reply,
        "banned": phone.banned,
        "linkedSessions": [
            {"sessionId": session_id, "connected": connected}
            for session_id, connected in linked_sessions
        ],
        "createdAt": int(phone.created_at),
    } | ({"businessName": phone.business_name} if phone.business_name else {})


def group_dict(group: Group) -> dict[str, Any]:
    return {
        "jid": group.jid,
        "name": group.name,
        "owner": group.owner,
        "topic": group.topic,
        "participants": [
            {
                "number": number,
                "jid": user_jid(number),
                "isAdmin": admin,
                "isSuperAdmin": number == group.owner,
            }
            for number, admin in group.participants.items()
        ],
        "createdAt": int(group.created_at),
    }


def _location_dict(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {
        "latitude": location.latitude,
        "longitude": location.longitude,
        "name": location.name,
        "address": location.address,
    }


def _contact_dict(contact: ContactCard | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {"displayName": contact.display_name, "vcard": contact.vcard}


def _reaction_dict(reaction: Reaction | None) -> dict[str, Any] | None:
    if reaction is None:
        return None
    return {"messageId": reaction.target_message_id, "emoji": reaction.emoji}


codec.register(
    [
        Phone,
        Group,
        MediaRef,
        MessageContent,
        StoredMessage,
        base.DisconnectReason,
        base.MediaContent,
        base.Location,
        base.ContactCard,
        base.Reaction,
        base.OutgoingMessage,
        base.SendReceipt,
        base.IncomingMedia,
        base.IncomingMessage,
        base.NumberCheck,
        base.GroupParticipant,
        base.GroupInfo,
        base.QrCodeEvent,
        base.PairingCodeEvent,
        base.ConnectedEvent,
        base.DisconnectedEvent,
        base.LoggedOutEvent,
        base.FailedEvent,
        base.MessageEvent,
        base.ReceiptEvent,
        base.GroupUpdateEvent,
        base.HistorySyncEvent,
        base.UndecryptableEvent,
    ]
)
