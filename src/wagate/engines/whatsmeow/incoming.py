"""whatsmeow's events (as neonize's protobufs) -> wagate's engine events.

Pure functions: the session runtime resolves what needs a network or store
look-up first (hidden ``@lid`` ids -> phone numbers, wagate's own message ids)
and passes the answers in. Connection events are in :mod:`.connection`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neonize.proto.Neonize_pb2 import Receipt as ReceiptProto
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ProtocolMessage

from wagate.engines.base import (
    ContactCard,
    GroupInfo,
    GroupParticipant,
    IncomingMedia,
    IncomingMessage,
    Location,
    MessageEvent,
    MessageKind,
    Reaction,
    ReceiptEvent,
    ReceiptStatus,
    UndecryptableEvent,
)

USER_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"
REFERENCE_PREFIX = "wm1:"

_RECEIPT_STATUS: dict[int, ReceiptStatus] = {
    ReceiptProto.DELIVERED: "delivered",
    ReceiptProto.READ: "read",
    ReceiptProto.PLAYED: "played",
}
# Wrappers whose ``.message`` holds the real content.
_WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
    "deviceSentMessage",
)
# Media sub-messages by our kind; the fields kept in a download reference.
_MEDIA_FIELDS: dict[str, str] = {
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
_REFERENCE_KEEP = (
    "URL",
    "directPath",
    "mediaKey",
    "fileEncSHA256",
    "fileSHA256",
    "fileLength",
    "mimetype",
)


# ---------------------------------------------------------------------------
# JIDs
# ---------------------------------------------------------------------------


def jid_str(jid: Any) -> str:
    """A JID protobuf as ``user@server``, without device or agent ('' when empty)."""
    if jid is None or not jid.User:
        return ""
    return f"{jid.User}@{jid.Server}"


def device_jid_str(jid: Any) -> str:
    """A JID protobuf with its device part, as whatsmeow's store keys it: ``user:12@server``."""
    if jid is None or not jid.User:
        return ""
    if jid.Device:
        return f"{jid.User}:{jid.Device}@{jid.Server}"
    return f"{jid.User}@{jid.Server}"


def is_lid(jid: str) -> bool:
    return jid.endswith("@" + LID_SERVER)


def _pn_of(lid: str, alternative: str, pn_for_lid: Mapping[str, str]) -> str:
    if alternative and alternative.endswith("@" + USER_SERVER):
        return alternative
    return pn_for_lid.get(lid, "")


@dataclass(frozen=True, slots=True)
class Parties:
    chat: str
    sender: str
    sender_lid: str | None


def resolve_parties(source: Any, pn_for_lid: Mapping[str, str]) -> Parties:
    """Chat and sender of a MessageSource as phone JIDs where whatsmeow can tell them."""
    chat = jid_str(source.Chat)
    sender = jid_str(source.Sender)
    sender_alt = jid_str(source.SenderAlt)
    recipient_alt = jid_str(source.RecipientAlt)
    sender_lid: str | None = None
    if is_lid(sender):
        sender_lid = sender
        sender = _pn_of(sender, sender_alt, pn_for_lid) or sender
    elif is_lid(sender_alt):
        sender_lid = sender_alt
    if is_lid(chat):
        if source.IsFromMe:
            chat = _pn_of(chat, recipient_alt, pn_for_lid) or chat
        elif sender_lid == chat:
            chat = sender
        else:
            chat = _pn_of(chat, sender_alt, pn_for_lid) or chat
    return Parties(chat=chat, sender=sender, sender_lid=sender_lid)


def lids_to_resolve(source: Any) -> set[str]:
    """The ``@lid`` ids of a MessageSource whose phone JID the event does not carry."""
    wanted: set[str] = set()
    for jid, alternative in (
        (source.Sender, source.SenderAlt),
        (source.Chat, source.RecipientAlt if source.IsFromMe else source.SenderAlt),
    ):
        text = jid_str(jid)
        if is_lid(text) and not jid_str(alternative).endswith("@" + USER_SERVER):
            wanted.add(text)
    return wanted


def timestamp_of(value: int) -> datetime:
    """neonize sends message times in milliseconds and receipt times in seconds."""
    if value > 100_000_000_000:
        return datetime.fromtimestamp(value / 1000, UTC)
    if value <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(value, UTC)


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


def unwrap(message: Any) -> tuple[Any, bool]:
    """Peel off ephemeral / view-once / edit wrappers; says whether one was an edit."""
    edited = False
    for _ in range(8):
        for wrapper in _WRAPPERS:
            if message.HasField(wrapper) and getattr(message, wrapper).HasField("message"):
                edited = edited or wrapper == "editedMessage"
                message = getattr(message, wrapper).message
                break
        else:
            return message, edited
    return message, edited


def media_reference(field: str, media: Any) -> str:
    """An opaque handle the core keeps; :func:`message_from_reference` reverses it."""
    kept = type(media)()
    for name in _REFERENCE_KEEP:
        if media.HasField(name):
            setattr(kept, name, getattr(media, name))
    holder = WAMessage()
    # whatsmeow downloads video notes (ptvMessage) as the videos they are
    getattr(holder, "videoMessage" if field == "ptvMessage" else field).CopyFrom(kept)
    encoded = base64.urlsafe_b64encode(holder.SerializeToString()).decode()
    return REFERENCE_PREFIX + encoded


def message_from_reference(reference: str) -> Any | None:
    if not reference.startswith(REFERENCE_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(reference[len(REFERENCE_PREFIX) :])
        return WAMessage.FromString(raw)
    except (binascii.Error, ValueError, Exception):
        return None


def _incoming_media(field: str, media: Any) -> IncomingMedia:
    return IncomingMedia(
        mimetype=media.mimetype or "application/octet-stream",
        size=media.fileLength or None,
        sha256=media.fileSHA256.hex() if media.fileSHA256 else None,
        filename=(media.fileName or None) if field == "documentMessage" else None,
        reference=media_reference(field, media),
    )


@dataclass(frozen=True, slots=True)
class Content:
    kind: MessageKind
    text: str | None = None
    media: IncomingMedia | None = None
    location: Location | None = None
    contact: ContactCard | None = None
    reaction: Reaction | None = None
    quoted_message_id: str | None = None

    def message(
        self,
        *,
        message_id: str,
        chat: str,
        sender: str,
        timestamp: datetime,
        from_me: bool,
        push_name: str | None,
        sender_lid: str | None,
        edited: bool = False,
        revoked: bool = False,
    ) -> IncomingMessage:
        """This content as the message whose envelope (who, where, when) is given."""
        return IncomingMessage(
            message_id=message_id,
            chat=chat,
            sender=sender,
            timestamp=timestamp,
            kind=self.kind,
            from_me=from_me,
            push_name=push_name,
            text=self.text,
            media=self.media,
            location=self.location,
            contact=self.contact,
            reaction=self.reaction,
            quoted_message_id=self.quoted_message_id,
            sender_lid=sender_lid,
            edited=edited,
            revoked=revoked,
        )


def _quoted(sub: Any) -> str | None:
    if sub.HasField("contextInfo") and sub.contextInfo.stanzaID:
        return str(sub.contextInfo.stanzaID)
    return None


def content_of(message: Any, *, with_media: bool = True) -> Content | None:
    """What a (unwrapped) waE2E.Message says, or None for kinds wagate does not carry."""
    if message.HasField("conversation") or message.conversation:
        return Content(kind="text", text=message.conversation)
    if message.HasField("extendedTextMessage"):
        sub = message.extendedTextMessage
        return Content(kind="text", text=sub.text, quoted_message_id=_quoted(sub))
    for field, kind in _MEDIA_FIELDS.items():
        if message.HasField(field):
            sub = getattr(message, field)
            caption = getattr(sub, "caption", "") if field != "stickerMessage" else ""
            media = _incoming_media(field, sub) if with_media else None
            return Content(
                kind=kind,  # type: ignore[arg-type]
                text=caption or None,
                media=media,
                quoted_message_id=_quoted(sub),
            )
    for field in ("locationMessage", "liveLocationMessage"):
        if message.HasField(field):
            sub = getattr(message, field)
            location = Location(
                latitude=sub.degreesLatitude,
                longitude=sub.degreesLongitude,
                name=getattr(sub, "name", "") or None,
                address=getattr(sub, "address", "") or None,
            )
            return Content(kind="location", location=location, quoted_message_id=_quoted(sub))
    if message.HasField("contactMessage"):
        sub = message.contactMessage
        card = ContactCard(display_name=sub.displayName, vcard=sub.vcard)
        return Content(kind="contact", contact=card, quoted_message_id=_quoted(sub))
    if message.HasField("contactsArrayMessage"):
        sub = message.contactsArrayMessage
        contacts = list(sub.contacts)
        if not contacts:
            return None
        name = sub.displayName or contacts[0].displayName
        vcard = "\n".join(contact.vcard.strip() for contact in contacts) + "\n"
        card = ContactCard(display_name=name, vcard=vcard)
        return Content(kind="contact", contact=card, quoted_message_id=_quoted(sub))
    if message.HasField("reactionMessage"):
        sub = message.reactionMessage
        reaction = Reaction(
            target_message_id=sub.key.ID,
            emoji=sub.text,
            target_from_me=sub.key.fromMe,
            target_sender=sub.key.participant or None,
        )
        return Content(kind="reaction", reaction=reaction)
    return None


def map_message(
    session_id: str, event: Any, *, pn_for_lid: Mapping[str, str] | None = None
) -> MessageEvent | None:
    """A neonize ``MessageEv`` as a :class:`MessageEvent`; None for what wagate ignores.

    Edits and revokes come back with ``message_id`` set to the message they
    change and ``edited`` / ``revoked`` set.
    """
    info = event.Info
    parties = resolve_parties(info.MessageSource, pn_for_lid or {})
    message, edited = unwrap(event.Message)
    edited = edited or bool(event.IsEdit)
    message_id = info.ID
    revoked = False
    if message.HasField("protocolMessage"):
        protocol = message.protocolMessage
        if protocol.type == ProtocolMessage.REVOKE and protocol.key.ID:
            message_id, revoked = protocol.key.ID, True
            content: Content | None = Content(kind="text")
        elif protocol.type == ProtocolMessage.MESSAGE_EDIT and protocol.HasField("editedMessage"):
            message_id, edited = protocol.key.ID, True
            inner, _ = unwrap(protocol.editedMessage)
            content = content_of(inner, with_media=False)
        else:
            return None
    else:
        content = content_of(message)
    if content is None:
        return None
    incoming = content.message(
        message_id=message_id,
        chat=parties.chat,
        sender=parties.sender,
        timestamp=timestamp_of(info.Timestamp),
        from_me=bool(info.MessageSource.IsFromMe),
        push_name=info.Pushname or None,
        sender_lid=parties.sender_lid,
        edited=edited,
        revoked=revoked,
    )
    return MessageEvent(session_id=session_id, message=incoming)


def map_undecryptable(
    session_id: str, event: Any, *, pn_for_lid: Mapping[str, str] | None = None
) -> UndecryptableEvent:
    """A neonize ``UndecryptableMessageEv``: who sent what could not be read, and why."""
    info = event.Info
    parties = resolve_parties(info.MessageSource, pn_for_lid or {})
    message = IncomingMessage(
        message_id=info.ID,
        chat=parties.chat,
        sender=parties.sender,
        timestamp=timestamp_of(info.Timestamp),
        kind="text",
        from_me=bool(info.MessageSource.IsFromMe),
        push_name=info.Pushname or None,
        sender_lid=parties.sender_lid,
    )
    reason = "unavailable" if event.IsUnavailable else "decryption_failed"
    return UndecryptableEvent(session_id=session_id, message=message, reason=reason)


# ---------------------------------------------------------------------------
# Receipts and groups
# ---------------------------------------------------------------------------


def map_receipt(
    session_id: str, event: Any, *, pn_for_lid: Mapping[str, str] | None = None
) -> ReceiptEvent | None:
    """A neonize ``ReceiptEv`` as a :class:`ReceiptEvent` (delivered, read, played only)."""
    status = _RECEIPT_STATUS.get(event.Type)
    if status is None or not event.MessageIDs:
        return None
    parties = resolve_parties(event.MessageSource, pn_for_lid or {})
    return ReceiptEvent(
        session_id=session_id,
        chat=parties.chat,
        message_ids=tuple(event.MessageIDs),
        status=status,
        timestamp=timestamp_of(event.Timestamp),
        sender=parties.sender or None,
    )


def map_group_info(group: Any) -> GroupInfo:
    """neonize's GroupInfo protobuf as wagate's :class:`GroupInfo`."""
    participants = tuple(
        GroupParticipant(
            jid=jid_str(p.PhoneNumber) or jid_str(p.JID) or jid_str(p.LID),
            is_admin=bool(p.IsAdmin or p.IsSuperAdmin),
            is_super_admin=bool(p.IsSuperAdmin),
        )
        for p in group.Participants
    )
    created = float(group.GroupCreated or 0)
    return GroupInfo(
        jid=jid_str(group.JID),
        name=group.GroupName.Name,
        owner=jid_str(group.OwnerPN) or jid_str(group.OwnerJID) or None,
        topic=group.GroupTopic.Topic or None,
        participants=participants,
        created_at=datetime.fromtimestamp(created, UTC) if created > 0 else None,
    )


def group_change(event: Any, own_jids: set[str]) -> tuple[GroupInfo, bool]:
    """What a ``GroupInfoEv`` tells without a look-up: the group as far as known, and
    whether we left it (we are among those who left)."""
    left = any(jid_str(jid) in own_jids for jid in event.Leave)
    name = event.Name.Name if event.HasField("Name") else ""
    topic = event.Topic.Topic if event.HasField("Topic") else None
    return GroupInfo(jid=jid_str(event.JID), name=name, topic=topic or None), left
