"""The sandbox network: a simulated WhatsApp that gateway sessions link to as devices.

This module holds the network's parts together and answers the device side
(what an engine asks for a session). Phones, links and faults are driven
through :class:`~wagate.engines.sandbox.control.LocalControl`, which uses the
same parts. Everything runs on one event loop, so each operation sees and
leaves a consistent state between its awaits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wagate.config import Settings
from wagate.engines.base import (
    MEDIA_KINDS,
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    EngineEvent,
    EventSink,
    GroupInfo,
    InvalidRecipientError,
    LoggedOutEvent,
    MediaError,
    NetworkError,
    NotConnectedError,
    NotLinkedError,
    NumberCheck,
    OutgoingMessage,
    PairingCodeEvent,
    Presence,
    QrCodeEvent,
    RateLimitedError,
    SendReceipt,
    SessionBannedError,
    UnsupportedError,
)
from wagate.engines.sandbox.hub import ConnectionHub, DeviceConnection
from wagate.engines.sandbox.linking import LinkAttempts
from wagate.engines.sandbox.models import MediaRef, MessageContent
from wagate.engines.sandbox.routing import MessageRouter
from wagate.engines.sandbox.state import NetworkState
from wagate.engines.sandbox.store import StateStore
from wagate.jid import InvalidJidError, is_group, normalize_number, number_of, to_jid, user_jid

logger = logging.getLogger("wagate.sandbox.network")

DEFAULT_MAX_MESSAGES_PER_PHONE = 1000
DEFAULT_FLUSH_DELAY = 0.5


@dataclass(slots=True)
class RateLimitFault:
    remaining: int
    retry_after: float


class SandboxNetwork:
    """Implements :class:`~wagate.engines.sandbox.ports.DevicePort` in-process."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        max_messages_per_phone: int = DEFAULT_MAX_MESSAGES_PER_PHONE,
        flush_delay: float = DEFAULT_FLUSH_DELAY,
    ) -> None:
        self.settings = settings
        self.state = NetworkState(max_messages_per_phone)
        self.store = StateStore(data_dir / "sandbox", self.state.snapshot, flush_delay=flush_delay)
        self.hub = ConnectionHub(self.state, self.store.mark_dirty)
        self.router = MessageRouter(self.state, self.hub, self.store.mark_dirty)
        self.linking = LinkAttempts(settings, on_qr=self._show_qr, on_timeout=self._link_timed_out)
        self.up = True
        self.rate_limits: dict[str, RateLimitFault] = {}
        self.presence: dict[str, tuple[str, str]] = {}  # session → (chat, last presence sent)

    async def open(self) -> None:
        data = await asyncio.to_thread(self.store.load)
        if data is not None:
            self.state.restore(data)
        removed = await asyncio.to_thread(self.store.remove_unused_media, self.state.media_in_use())
        if removed:
            logger.info("removed %d media files no message refers to any more", removed)

    async def close(self) -> None:
        self.linking.end_all()
        await self.hub.close_all()
        await self.store.close()

    # -- linking and connections --------------------------------------------------

    def is_linked(self, session_id: str) -> bool:
        return session_id in self.state.links

    async def linked_sessions(self) -> list[str]:
        return sorted(self.state.links)

    async def connect(self, session_id: str, sink: EventSink, *, resume: bool) -> None:
        if not self.up:
            raise NetworkError("the sandbox network is down")
        current = self.hub.get(session_id)
        if current is not None and current.sink == sink:
            if current.linked:  # asked again: say again where it stands
                current.push(self._connected_event(session_id))
            return
        if current is not None:
            self.linking.end(session_id)
            self.hub.drop(
                session_id,
                DisconnectedEvent(
                    session_id,
                    DisconnectReason.STREAM_REPLACED,
                    will_retry=False,
                    detail="another connection took over this device",
                ),
            )
        number = self.state.links.get(session_id)
        if number is None:
            if resume or session_id in self.state.revoked:
                self.state.revoked.discard(session_id)
                self.store.mark_dirty()
                self.hub.open(session_id, sink, None)
                self.hub.drop(session_id, LoggedOutEvent(session_id, detail="device was removed"))
                return
            self.hub.open(session_id, sink, None)
            self.linking.start(session_id)
            return
        if self.state.phones[number].banned:
            raise SessionBannedError(f"the account {number} is banned")
        connection = self.hub.open(session_id, sink, number)
        connection.push(self._connected_event(session_id))
        for event in self.state.inboxes.pop(session_id, []):
            connection.push(event)
        self.store.mark_dirty()

    async def disconnect(self, session_id: str, *, sink: EventSink | None = None) -> None:
        current = self.hub.get(session_id)
        if current is None or (sink is not None and current.sink != sink):
            return
        self.linking.end(session_id)
        await self.hub.close_quietly(session_id)

    async def logout(self, session_id: str) -> None:
        self.linking.end(session_id)
        await self.hub.close_quietly(session_id, keep_undelivered=False)
        self.state.forget_session(session_id)
        self.state.revoked.discard(session_id)
        self.rate_limits.pop(session_id, None)
        await self.store.save()

    async def request_pairing_code(
        self, session_id: str, phone_number: str, sink: EventSink
    ) -> str:
        if not self.up:
            raise NetworkError("the sandbox network is down")
        try:
            number = normalize_number(phone_number)
        except InvalidJidError as exc:
            raise InvalidRecipientError(f"phone number {phone_number!r} {exc}") from None
        if self.is_linked(session_id):
            raise UnsupportedError("the session is already linked; log it out first")
        connection = self.hub.get(session_id)
        if connection is None or connection.sink != sink:
            await self.connect(session_id, sink, resume=False)
            connection = self.hub.get(session_id)
            assert connection is not None
        code = self.linking.request_pairing(session_id, number)
        connection.push(PairingCodeEvent(session_id, code, number))
        return code

    def complete_link(self, session_id: str, number: str) -> None:
        """The phone ``number`` scanned this session's QR or entered its code."""
        self.linking.end(session_id)
        self.state.links[session_id] = number
        self.state.revoked.discard(session_id)
        connection = self.hub.get(session_id)
        if connection is not None:
            connection.phone_number = number
            connection.push(self._connected_event(session_id))

    def _connected_event(self, session_id: str) -> ConnectedEvent:
        number = self.state.links[session_id]
        phone = self.state.phones[number]
        return ConnectedEvent(session_id, number, push_name=phone.name, jid=user_jid(number))

    def _show_qr(self, session_id: str, qr: str, expires_in: float) -> None:
        self.hub.push(session_id, QrCodeEvent(session_id, qr, expires_in))

    def _link_timed_out(self, session_id: str) -> None:
        self.hub.drop(
            session_id,
            DisconnectedEvent(
                session_id,
                DisconnectReason.QR_TIMEOUT,
                will_retry=False,
                detail="no phone linked the device in time",
            ),
        )

    def drop(self, session_id: str, event: EngineEvent) -> bool:
        """End a connection with ``event`` as the last thing its device hears."""
        self.linking.end(session_id)
        return self.hub.drop(session_id, event)

    # -- messaging ------------------------------------------------------------------

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt:
        number = self._linked_connection(session_id).phone_number
        assert number is not None
        fault = self.rate_limits.get(session_id)
        if fault is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self.rate_limits[session_id]
            raise RateLimitedError(
                "rate-overlimit: too many messages", retry_after=fault.retry_after
            )
        earlier = self.state.find_message(number, message.message_id)
        if earlier is not None and earlier.direction == "out":
            # The same id again is a retry of a send we already took: take it once.
            return SendReceipt(earlier.message_id, _as_datetime(earlier.timestamp))
        to = self.resolve_recipient(number, message.to)
        content = await self.content_of(message)
        # Storing the media let other work run: the device may be gone by now.
        self._linked_connection(session_id)
        sent = self.router.route(
            sender=number,
            to=to,
            content=content,
            message_id=message.message_id,
            origin_session=session_id,
        )
        return SendReceipt(sent.message_id, _as_datetime(sent.timestamp))

    def resolve_recipient(self, sender: str, to: str) -> str:
        """The JID ``sender`` may write to, or :class:`InvalidRecipientError`."""
        try:
            jid = to_jid(to)
        except InvalidJidError as exc:
            raise InvalidRecipientError(f"recipient {to!r} {exc}") from None
        if is_group(jid):
            group = self.state.groups.get(jid)
            if group is None:
                raise InvalidRecipientError(f"there is no group {jid}")
            if sender not in group.participants:
                raise InvalidRecipientError(f"{sender} is not a participant of {jid}")
            return jid
        if not jid.endswith("@s.whatsapp.net"):
            raise InvalidRecipientError(f"recipient {to!r} is not a phone number or a group")
        phone = self.state.phones.get(number_of(jid))
        if phone is None or phone.banned:
            raise InvalidRecipientError(f"{number_of(jid)} is not on WhatsApp")
        return jid

    async def content_of(self, message: OutgoingMessage) -> MessageContent:
        kind = message.kind
        media_ref = None
        if kind in MEDIA_KINDS:
            if message.media is None or not message.media.data:
                raise MediaError(f"a {kind} message needs its media")
            media = message.media
            digest = await self.store.put_media(media.data)
            media_ref = MediaRef(
                digest, media.mimetype, len(media.data), media.filename, message.voice_note
            )
        missing = {
            "text": not message.text,
            "location": message.location is None,
            "contact": message.contact is None,
            "reaction": message.reaction is None,
        }.get(kind, False)
        if missing:
            raise UnsupportedError(f"a {kind} message needs its {kind}")
        return MessageContent(
            kind=kind,
            text=message.text,
            media=media_ref,
            location=message.location,
            contact=message.contact,
            reaction=message.reaction,
            quoted_message_id=message.quoted_message_id,
        )

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]:
        self._linked_connection(session_id)
        checks = []
        for raw in numbers:
            try:
                number = normalize_number(raw)
            except InvalidJidError:
                checks.append(NumberCheck(raw, None, False))
                continue
            phone = self.state.phones.get(number)
            on = phone is not None and not phone.banned
            checks.append(
                NumberCheck(
                    number,
                    user_jid(number) if on else None,
                    on,
                    phone.business_name if phone is not None and on else None,
                )
            )
        return checks

    async def list_groups(self, session_id: str) -> list[GroupInfo]:
        number = self._linked_connection(session_id).phone_number
        assert number is not None
        return [group.info() for group in self.state.groups_of(number)]

    async def get_group(self, session_id: str, jid: str) -> GroupInfo:
        number = self._linked_connection(session_id).phone_number
        group = self.state.groups.get(jid.strip())
        if group is None or number not in group.participants:
            raise InvalidRecipientError(f"there is no group {jid} for this account")
        return group.info()

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None = None
    ) -> None:
        number = self._linked_connection(session_id).phone_number
        assert number is not None
        self.router.mark_read(number, message_ids)

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None:
        self._linked_connection(session_id)
        self.presence[session_id] = (chat, presence)

    async def download_media(self, session_id: str, reference: str) -> bytes:
        if not self.is_linked(session_id):
            raise NotLinkedError("the session is not linked")
        data = await self.store.read_media(reference)
        if data is None:
            raise MediaError(f"no media {reference!r} on the sandbox network")
        return data

    def _linked_connection(self, session_id: str) -> DeviceConnection:
        connection = self.hub.get(session_id)
        if connection is None or not connection.linked:
            if not self.is_linked(session_id):
                raise NotLinkedError("the session is not linked to a phone")
            raise NotConnectedError("the session is not connected to the sandbox network")
        return connection


def _as_datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
