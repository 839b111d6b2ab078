"""Everything the network remembers, and how it turns into JSON and back."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from wagate.engines.base import EngineEvent, GroupUpdateEvent, MessageEvent, ReceiptEvent
from wagate.engines.sandbox import codec
from wagate.engines.sandbox.models import Group, Phone, StoredMessage

logger = logging.getLogger("wagate.sandbox.state")

STATE_VERSION = 1
# Only what a device would find waiting for it waits in an inbox; link and
# connection events describe a moment and are never replayed.
QUEUEABLE_EVENTS = (MessageEvent, ReceiptEvent, GroupUpdateEvent)


class NetworkState:
    def __init__(self, max_messages_per_phone: int) -> None:
        self.max_messages_per_phone = max_messages_per_phone
        self.phones: dict[str, Phone] = {}
        self.links: dict[str, str] = {}  # session id → number of the account it belongs to
        self.groups: dict[str, Group] = {}
        # Oldest first; keyed by message id so receipts find their message at once.
        self.messages: dict[str, OrderedDict[str, StoredMessage]] = {}
        # Events for linked sessions that are not connected, delivered when they are.
        self.inboxes: dict[str, list[EngineEvent]] = {}
        # Sessions whose link the phone removed while they were away: their next
        # connection learns it was logged out instead of quietly showing a QR.
        self.revoked: set[str] = set()

    # -- queries --------------------------------------------------------------

    def sessions_of(self, number: str) -> list[str]:
        return [session for session, owner in self.links.items() if owner == number]

    def messages_of(self, number: str) -> OrderedDict[str, StoredMessage]:
        return self.messages.setdefault(number, OrderedDict())

    def find_message(self, number: str, message_id: str) -> StoredMessage | None:
        kept = self.messages.get(number)
        return None if kept is None else kept.get(message_id)

    def groups_of(self, number: str) -> Iterator[Group]:
        return (group for group in self.groups.values() if number in group.participants)

    # -- changes --------------------------------------------------------------

    def add_message(self, number: str, message: StoredMessage) -> None:
        kept = self.messages_of(number)
        kept[message.message_id] = message
        while len(kept) > self.max_messages_per_phone:
            kept.popitem(last=False)

    def queue_for_later(self, session_id: str, events: list[EngineEvent]) -> None:
        inbox = self.inboxes.setdefault(session_id, [])
        inbox.extend(event for event in events if isinstance(event, QUEUEABLE_EVENTS))
        self._bound(session_id, inbox)

    def requeue_first(self, session_id: str, events: list[EngineEvent]) -> None:
        """Put events a dropped connection never delivered back in front of the inbox."""
        undelivered = [event for event in events if isinstance(event, QUEUEABLE_EVENTS)]
        if undelivered:
            inbox = self.inboxes[session_id] = undelivered + self.inboxes.get(session_id, [])
            self._bound(session_id, inbox)

    def _bound(self, session_id: str, inbox: list[EngineEvent]) -> None:
        # A device away for long misses the oldest, as on WhatsApp: an inbox holds
        # at most as many events as a phone keeps messages.
        overflow = len(inbox) - self.max_messages_per_phone
        if overflow > 0:
            del inbox[:overflow]
            logger.warning(
                "session %s was away too long: its %d oldest undelivered events were dropped",
                session_id,
                overflow,
            )

    def forget_session(self, session_id: str) -> None:
        self.links.pop(session_id, None)
        self.inboxes.pop(session_id, None)

    def media_in_use(self) -> set[str]:
        used = {
            message.content.media.sha256
            for kept in self.messages.values()
            for message in kept.values()
            if message.content.media is not None
        }
        for inbox in self.inboxes.values():
            for event in inbox:
                if isinstance(event, MessageEvent) and event.message.media is not None:
                    used.add(event.message.media.reference)
        return used

    # -- persistence ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "phones": [codec.encode(phone) for phone in self.phones.values()],
            "links": dict(self.links),
            "groups": [codec.encode(group) for group in self.groups.values()],
            "messages": {
                number: [codec.encode(message) for message in kept.values()]
                for number, kept in self.messages.items()
            },
            "inboxes": {session: codec.encode(events) for session, events in self.inboxes.items()},
            "revoked": sorted(self.revoked),
        }

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("version") != STATE_VERSION:
            raise codec.CodecError(f"unsupported sandbox state version {data.get('version')!r}")
        phones: list[Phone] = codec.decode(data["phones"])
        groups: list[Group] = codec.decode(data["groups"])
        self.phones = {phone.number: phone for phone in phones}
        self.links = dict(data["links"])
        self.groups = {group.jid: group for group in groups}
        self.messages = {}
        for number, encoded in data["messages"].items():
            stored: list[StoredMessage] = codec.decode(encoded)
            self.messages[number] = OrderedDict((m.message_id, m) for m in stored)
        self.inboxes = {
            session: codec.decode(events) for session, events in data["inboxes"].items()
        }
        self.revoked = set(data.get("revoked", []))
