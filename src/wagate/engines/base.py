"""The one seam between wagate's core and anything that speaks WhatsApp.

An :class:`Engine` serves many gateway sessions at once; every call names the
session it is for. What happens on the network comes back as typed events
through the :data:`EventSink` the engine was built with. Engines raise only the
errors defined here: each engine translates its library's exceptions at its own
boundary, so the core never sees a foreign exception.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from wagate.config import Settings

MessageKind = Literal[
    "text", "image", "video", "audio", "document", "sticker", "location", "contact", "reaction"
]
MEDIA_KINDS: frozenset[str] = frozenset({"image", "video", "audio", "document", "sticker"})
ReceiptStatus = Literal["delivered", "read", "played"]
Presence = Literal["typing", "recording", "paused", "available", "unavailable"]


class DisconnectReason(enum.StrEnum):
    """Machine-readable causes a client can act on without parsing text."""

    QR_TIMEOUT = "qr_timeout"
    NETWORK = "network"
    CONNECT_FAILURE = "connect_failure"
    KEEPALIVE_TIMEOUT = "keepalive_timeout"
    STREAM_REPLACED = "stream_replaced"
    LOGGED_OUT_BY_PHONE = "logged_out_by_phone"
    BANNED = "banned"
    TEMPORARY_BAN = "temporary_ban"
    CLIENT_OUTDATED = "client_outdated"
    STREAM_ERROR = "stream_error"
    USER_REQUEST = "user_request"
    SHUTDOWN = "shutdown"
    UNKNOWN = "unknown"


# ---------------------------------------------------------------------------
# Values that cross the seam
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaContent:
    """Bytes to send, already checked by the core."""

    data: bytes
    mimetype: str
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class ContactCard:
    display_name: str
    vcard: str


@dataclass(frozen=True, slots=True)
class Reaction:
    target_message_id: str
    emoji: str  # an empty string removes the reaction
    target_from_me: bool = False
    target_sender: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message the core asks an engine to send. Its id was chosen up front."""

    message_id: str
    to: str  # a full JID: ``<digits>@s.whatsapp.net`` or ``<id>@g.us``
    kind: MessageKind
    text: str | None = None  # body of a text message, caption of a media one
    media: MediaContent | None = None
    voice_note: bool = False
    location: Location | None = None
    contact: ContactCard | None = None
    reaction: Reaction | None = None
    quoted_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """The engine's acknowledgement that the network accepted a message."""

    message_id: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class IncomingMedia:
    """Media attached to an incoming message; fetch its bytes with ``download_media``."""

    mimetype: str
    size: int | None = None
    sha256: str | None = None  # hex digest of the plain bytes, when the engine knows it
    filename: str | None = None
    reference: str = ""  # opaque to the core; meaningful only to the engine that made it


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    message_id: str
    chat: str  # the conversation JID: the sender for one-to-one, the group for a group
    sender: str  # the JID of who wrote it (the participant in a group)
    timestamp: datetime
    kind: MessageKind
    from_me: bool = False
    push_name: str | None = None
    text: str | None = None  # body, or caption of media
    media: IncomingMedia | None = None
    location: Location | None = None
    contact: ContactCard | None = None
    reaction: Reaction | None = None
    quoted_message_id: str | None = None
    sender_lid: str | None = None  # the hidden id, kept beside the phone JID when both are known
    edited: bool = False
    revoked: bool = False

    @property
    def is_group(self) -> bool:
        return self.chat.endswith("@g.us")


@dataclass(frozen=True, slots=True)
class NumberCheck:
    number: str
    jid: str | None
    on_whatsapp: bool
    # A business account's name as WhatsApp verified it.
    verified_name: str | None = None


@dataclass(frozen=True, slots=True)
class GroupParticipant:
    jid: str
    is_admin: bool = False
    is_super_admin: bool = False


@dataclass(frozen=True, slots=True)
class GroupInfo:
    jid: str
    name: str
    owner: str | None = None
    topic: str | None = None
    participants: tuple[GroupParticipant, ...] = ()
    created_at: datetime | None = None


# ---------------------------------------------------------------------------
# Events an engine emits
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QrCodeEvent:
    session_id: str
    code: str
    expires_in: float  # seconds until the next code replaces this one


@dataclass(frozen=True, slots=True)
class PairingCodeEvent:
    session_id: str
    code: str
    phone_number: str


@dataclass(frozen=True, slots=True)
class ConnectedEvent:
    session_id: str
    phone_number: str  # digits only, no ``+``
    push_name: str | None = None
    jid: str | None = None


@dataclass(frozen=True, slots=True)
class DisconnectedEvent:
    """The connection dropped. ``will_retry`` says the engine reconnects by itself;
    when it is false the session manager schedules the reconnect."""

    session_id: str
    reason: DisconnectReason
    will_retry: bool
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedOutEvent:
    """The link is gone (removed from the phone, replaced): a new QR is needed."""

    session_id: str
    reason: DisconnectReason = DisconnectReason.LOGGED_OUT_BY_PHONE
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class FailedEvent:
    """Unrecoverable without a person: banned, client outdated."""

    session_id: str
    reason: DisconnectReason
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class MessageEvent:
    session_id: str
    message: IncomingMessage


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    session_id: str
    chat: str
    message_ids: tuple[str, ...]
    status: ReceiptStatus
    timestamp: datetime
    sender: str | None = None  # who delivered or read it (a participant, in a group)


@dataclass(frozen=True, slots=True)
class GroupUpdateEvent:
    session_id: str
    group: GroupInfo
    joined: bool = False
    left: bool = False


@dataclass(frozen=True, slots=True)
class HistorySyncEvent:
    """Past messages the phone shares with a newly linked device, one batch at a time.

    The core stores them as history, without a webhook per message."""

    session_id: str
    messages: tuple[IncomingMessage, ...]
    kind: str  # the phone's name for the batch: initial, recent, full, on_demand
    progress: int | None = None  # percent of the whole transfer, when the phone says


@dataclass(frozen=True, slots=True)
class UndecryptableEvent:
    """A message arrived that the engine could not decrypt (its content is lost)."""

    session_id: str
    message: IncomingMessage  # who, where and when; no content
    reason: str  # "unavailable" (not sent to this device) or "decryption_failed"


EngineEvent = (
    QrCodeEvent
    | PairingCodeEvent
    | ConnectedEvent
    | DisconnectedEvent
    | LoggedOutEvent
    | FailedEvent
    | MessageEvent
    | ReceiptEvent
    | GroupUpdateEvent
    | HistorySyncEvent
    | UndecryptableEvent
)
EventSink = Callable[[EngineEvent], Awaitable[None]]


# ---------------------------------------------------------------------------
# Errors an engine raises
# ---------------------------------------------------------------------------


class EngineError(Exception):
    """Base of every error an engine raises. ``temporary`` errors are worth a retry."""

    temporary: bool = False

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotConnectedError(EngineError):
    """The session has no live connection right now."""

    temporary = True


class RateLimitedError(EngineError):
    """The network refused the send for sending too fast."""

    temporary = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NetworkError(EngineError):
    """The network could not be reached, or the connection broke mid-call."""

    temporary = True


class NotLinkedError(EngineError):
    """The session has no linked device (logged out, never linked)."""


class SessionBannedError(EngineError):
    """The account behind the session is banned."""


class InvalidRecipientError(EngineError):
    """The recipient does not exist or cannot receive this message."""


class MediaError(EngineError):
    """Media could not be uploaded or downloaded."""


class UnsupportedError(EngineError):
    """The engine cannot do this at all."""


# ---------------------------------------------------------------------------
# The engine itself
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineContext:
    """What an engine is built with."""

    settings: Settings
    emit: EventSink
    data_dir: Path = field(default_factory=lambda: Path("./data"))


@runtime_checkable
class Engine(Protocol):
    """Everything the session manager asks of a WhatsApp engine.

    ``start_session`` links (emitting QR codes) or resumes a linked device
    without a QR; it returns once the attempt is under way, and the outcome
    arrives as events. Every other call may raise only :class:`EngineError`.
    """

    name: str

    async def open(self) -> None:
        """Engine-wide start-up, before any session starts."""

    async def close(self) -> None:
        """Stop every session's connection and release everything."""

    async def start_session(self, session_id: str) -> None: ...

    async def request_pairing_code(self, session_id: str, phone_number: str) -> str: ...

    async def stop_session(self, session_id: str) -> None:
        """Drop the connection but keep the link, so the session can resume."""

    async def logout(self, session_id: str) -> None:
        """Remove the linked device and forget its credentials."""

    def is_linked(self, session_id: str) -> bool:
        """Whether credentials for this session are kept (it resumes without a QR)."""

    def new_message_id(self, session_id: str) -> str: ...

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt: ...

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]: ...

    async def list_groups(self, session_id: str) -> list[GroupInfo]: ...

    async def get_group(self, session_id: str, jid: str) -> GroupInfo: ...

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None = None
    ) -> None: ...

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None: ...

    async def download_media(self, session_id: str, media: IncomingMedia) -> bytes: ...


EngineFactory = Callable[[EngineContext], Engine]
