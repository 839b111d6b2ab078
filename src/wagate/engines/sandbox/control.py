"""The sandbox's control face, in-process: play the phones, groups and faults.

Every method checks its input and answers plain dicts, raising
:class:`SandboxError` with an app error code for bad input, so the
``/sandbox/v1`` router only shapes HTTP around it.
"""

from __future__ import annotations

from typing import Any

from wagate.engines.base import (
    DisconnectedEvent,
    DisconnectReason,
    EngineError,
    FailedEvent,
    InvalidRecipientError,
    LoggedOutEvent,
)
from wagate.engines.sandbox.ids import new_group_jid
from wagate.engines.sandbox.models import (
    AUTO_REPLY_MODES,
    Group,
    Phone,
    SandboxError,
    group_dict,
    phone_dict,
)
from wagate.engines.sandbox.network import RateLimitFault, SandboxNetwork
from wagate.engines.sandbox.payloads import outgoing_from_payload
from wagate.jid import InvalidJidError, normalize_number, to_jid

MAX_LATENCY_MS = 60_000
MAX_LIST_LIMIT = 1000
_PHONE_CHANGES = {
    "name": "name",
    "online": "online",
    "autoRead": "auto_read",
    "auto_read": "auto_read",
    "autoReply": "auto_reply",
    "auto_reply": "auto_reply",
    "businessName": "business_name",
    "business_name": "business_name",
}


class LocalControl:
    """Implements :class:`~wagate.engines.sandbox.ports.SandboxControl` on a local network."""

    def __init__(self, network: SandboxNetwork) -> None:
        self.network = network
        self._state = network.state

    # -- phones -----------------------------------------------------------------

    async def create_phone(
        self,
        number: str,
        name: str | None = None,
        *,
        online: bool = True,
        auto_read: bool = False,
        auto_reply: str | None = None,
        business_name: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Returns the phone and whether it was created (an existing one is kept as is)."""
        number = _number(number)
        existing = self._state.phones.get(number)
        if existing is not None:
            return self._phone_dict(existing), False
        phone = Phone(number, name or f"Phone {number[-4:]}")
        self._apply(phone, {"name": phone.name, "online": online, "auto_read": auto_read})
        self._apply(phone, {"auto_reply": auto_reply, "business_name": business_name})
        self._state.phones[number] = phone
        await self.network.store.save()
        return self._phone_dict(phone), True

    async def list_phones(self) -> list[dict[str, Any]]:
        return [self._phone_dict(phone) for phone in self._state.phones.values()]

    async def get_phone(self, number: str) -> dict[str, Any]:
        return self._phone_dict(self._phone(number))

    async def update_phone(self, number: str, changes: dict[str, Any]) -> dict[str, Any]:
        """``changes`` keys: ``name``, ``online``, ``autoRead``, ``autoReply`` (None or "echo")."""
        phone = self._phone(number)
        unknown = set(changes) - set(_PHONE_CHANGES)
        if unknown:
            raise SandboxError.invalid(f"cannot change {', '.join(sorted(unknown))}")
        was_online = phone.online
        self._apply(phone, {_PHONE_CHANGES[key]: value for key, value in changes.items()})
        if phone.online and not was_online:
            self.network.router.phone_came_online(phone.number)
        await self.network.store.save()
        return self._phone_dict(phone)

    async def delete_phone(self, number: str) -> None:
        phone = self._phone(number)
        await self._unlink_sessions(phone.number, self._state.sessions_of(phone.number))
        for group in list(self._state.groups_of(phone.number)):
            await self._change_members(group, add=[], remove=[phone.number])
        del self._state.phones[phone.number]
        self._state.messages.pop(phone.number, None)
        await self.network.store.save()

    # -- linking ----------------------------------------------------------------

    async def list_sessions(self) -> list[dict[str, Any]]:
        """Every session the network knows: linked ones and those showing a QR or code."""
        hub, linking = self.network.hub, self.network.linking
        known = dict.fromkeys([*self._state.links, *hub.session_ids()])
        sessions = []
        for session_id in known:
            connection = hub.get(session_id)
            attempt = linking.get(session_id)
            number = self._state.links.get(session_id)
            if connection is not None and connection.linked:
                state = "connected"
            elif attempt is not None:
                state = "pairing" if attempt.pairing_code else "qr"
            else:
                state = "offline"
            sessions.append(
                {
                    "sessionId": session_id,
                    "phone": number,
                    "state": state,
                    "qr": attempt.qr if attempt else None,
                    "pairingPhone": attempt.pairing_phone if attempt else None,
                    "waitingEvents": len(self._state.inboxes.get(session_id, [])),
                    "lastPresence": self.network.presence.get(session_id, (None, None))[1],
                }
            )
        return sessions

    async def link_by_qr(self, phone: str, qr: str) -> dict[str, Any]:
        """``phone`` scans ``qr``: the session showing exactly that code links to it."""
        scanner = self._usable_phone(phone)
        session_id = self.network.linking.session_for_qr(qr) if qr else None
        if session_id is None:
            raise SandboxError.invalid("the QR code is not valid or has expired")
        return await self._link(session_id, scanner.number)

    async def pair_by_code(self, phone: str, code: str) -> dict[str, Any]:
        """``phone`` enters the pairing code a session asked for, for that phone."""
        scanner = self._usable_phone(phone)
        attempt = self.network.linking.attempt_for_code(code or "")
        if attempt is None:
            raise SandboxError.invalid("the pairing code is not valid or has expired")
        if attempt.pairing_phone != scanner.number:
            raise SandboxError.invalid("the pairing code was requested for another number")
        return await self._link(attempt.session_id, scanner.number)

    async def unlink(self, phone: str, session_id: str | None = None) -> list[str]:
        """Remove one linked device of ``phone``, or all of them; returns the session ids."""
        number = self._phone(phone).number
        sessions = self._state.sessions_of(number)
        if session_id is not None:
            if session_id not in sessions:
                raise SandboxError.not_found(f"session {session_id} is not linked to {number}")
            sessions = [session_id]
        await self._unlink_sessions(number, sessions)
        return sessions

    # -- messages ---------------------------------------------------------------

    async def send_message(self, phone: str, message: dict[str, Any]) -> dict[str, Any]:
        """The phone sends a message; see ``payloads.outgoing_from_payload`` for its keys."""
        sender = self._usable_phone(phone).number
        outgoing = outgoing_from_payload(message)
        try:
            to = self.network.resolve_recipient(sender, outgoing.to)
        except InvalidRecipientError as exc:
            raise SandboxError.not_found(exc.message) from None
        try:
            content = await self.network.content_of(outgoing)
        except EngineError as exc:
            raise SandboxError.invalid(exc.message) from None
        sent = self.network.router.route(
            sender=sender, to=to, content=content, message_id=outgoing.message_id
        )
        return {"messageId": sent.message_id, "timestamp": int(sent.timestamp), "to": to}

    async def list_messages(
        self, phone: str, *, chat: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The phone's messages, newest first, optionally of one chat (number or JID)."""
        number = self._phone(phone).number
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise SandboxError.invalid(f"limit must be from 1 to {MAX_LIST_LIMIT}")
        chat_jid = _jid(chat) if chat else None
        listed = []
        for message in reversed(self._state.messages_of(number).values()):
            if chat_jid is None or message.chat == chat_jid:
                listed.append(message.as_dict())
                if len(listed) == limit:
                    break
        return listed

    async def read_messages(self, phone: str, message_ids: list[str]) -> int:
        """The phone reads these received messages; their senders get read receipts."""
        number = self._usable_phone(phone).number
        if not isinstance(message_ids, list) or not all(isinstance(i, str) for i in message_ids):
            raise SandboxError.invalid("messageIds must be a list of message ids")
        return self.network.router.mark_read(number, message_ids)

    async def get_media(self, sha256: str) -> bytes:
        data = await self.network.store.read_media(sha256.lower())
        if data is None:
            raise SandboxError.not_found(f"no media {sha256}")
        return data

    # -- groups -----------------------------------------------------------------

    async def create_group(self, name: str, owner: str, participants: list[str]) -> dict[str, Any]:
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
            raise SandboxError.invalid("name must be 1 to 100 characters")
        owner_number = self._phone(owner).number
        members = self._phones(participants)
        jid = new_group_jid()
        while jid in self._state.groups:
            jid = new_group_jid()
        group = Group(jid, name.strip(), owner_number, {owner_number: True})
        group.participants.update({number: False for number in members if number != owner_number})
        self._state.groups[jid] = group
        self.network.router.announce_membership(group, group.participants, joined=True)
        await self.network.store.save()
        return group_dict(group)

    async def list_groups(self, phone: str | None = None) -> list[dict[str, Any]]:
        if phone is None:
            return [group_dict(group) for group in self._state.groups.values()]
        return [group_dict(group) for group in self._state.groups_of(self._phone(phone).number)]

    async def update_group_participants(
        self, jid: str, *, add: list[str] | None = None, remove: list[str] | None = None
    ) -> dict[str, Any]:
        group = self._state.groups.get(jid.strip())
        if group is None:
            raise SandboxError.not_found(f"there is no group {jid}")
        leaving = self._phones(remove or [])
        if group.owner in leaving:
            raise SandboxError.invalid("the owner cannot be removed from the group")
        await self._change_members(group, add=self._phones(add or []), remove=leaving)
        await self.network.store.save()
        return group_dict(group)

    # -- faults and status ------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        hub = self.network.hub
        return {
            "networkUp": self.network.up,
            "latencyMs": hub.latency_ms,
            "phones": len(self._state.phones),
            "groups": len(self._state.groups),
            "linkedSessions": len(self._state.links),
            "connectedSessions": sum(
                1 for sid in hub.session_ids() if (c := hub.get(sid)) and c.linked
            ),
            "rateLimited": {sid: f.remaining for sid, f in self.network.rate_limits.items()},
        }

    async def disconnect(self, session_id: str) -> None:
        """Drop one session's connection, as a network failure would."""
        event = DisconnectedEvent(
            session_id, DisconnectReason.NETWORK, will_retry=False, detail="connection dropped"
        )
        if not self.network.drop(session_id, event):
            raise SandboxError.conflict(f"session {session_id} is not connected")

    async def network_down(self) -> None:
        """Drop every connection and refuse new ones until ``network_up``."""
        self.network.up = False
        for session_id in self.network.hub.session_ids():
            self.network.drop(
                session_id,
                DisconnectedEvent(
                    session_id, DisconnectReason.NETWORK, will_retry=False, detail="network down"
                ),
            )

    async def network_up(self) -> None:
        self.network.up = True

    async def set_latency(self, ms: float) -> None:
        if isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 <= ms <= MAX_LATENCY_MS:
            raise SandboxError.invalid(f"latency must be from 0 to {MAX_LATENCY_MS} ms")
        self.network.hub.latency_ms = float(ms)

    async def ban(self, *, session_id: str | None = None, phone: str | None = None) -> str:
        """Ban the account behind a session (or a phone); returns its number."""
        if (session_id is None) == (phone is None):
            raise SandboxError.invalid("name either a session or a phone to ban")
        if session_id is not None:
            linked_number = self._state.links.get(session_id)
            if linked_number is None:
                raise SandboxError.not_found(f"session {session_id} is not linked")
            phone = linked_number
        assert phone is not None
        account = self._phone(phone)
        account.banned = True
        for linked in self._state.sessions_of(account.number):
            self.network.drop(
                linked, FailedEvent(linked, DisconnectReason.BANNED, detail="account banned")
            )
        await self.network.store.save()
        return account.number

    async def unban(self, phone: str) -> None:
        self._phone(phone).banned = False
        await self.network.store.save()

    async def rate_limit(self, session_id: str, count: int = 1, retry_after: float = 1.0) -> None:
        """Refuse the session's next ``count`` sends as WhatsApp's rate limit does."""
        if session_id not in self._state.links:
            raise SandboxError.not_found(f"session {session_id} is not linked")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
            raise SandboxError.invalid("count must be from 1 to 10000")
        if not isinstance(retry_after, int | float) or retry_after < 0:
            raise SandboxError.invalid("retryAfter must be zero or more seconds")
        self.network.rate_limits[session_id] = RateLimitFault(count, float(retry_after))

    # -- helpers ----------------------------------------------------------------

    def _phone(self, number: str) -> Phone:
        phone = self._state.phones.get(_number(number))
        if phone is None:
            raise SandboxError.not_found(f"there is no phone {number}")
        return phone

    def _phones(self, numbers: list[str]) -> list[str]:
        if not isinstance(numbers, list):
            raise SandboxError.invalid("participants must be a list of phone numbers")
        return list(dict.fromkeys(self._phone(number).number for number in numbers))

    def _usable_phone(self, number: str) -> Phone:
        phone = self._phone(number)
        if phone.banned:
            raise SandboxError.forbidden(f"the phone {phone.number} is banned")
        if not phone.online:
            raise SandboxError.conflict(f"the phone {phone.number} is offline")
        return phone

    async def _link(self, session_id: str, number: str) -> dict[str, Any]:
        self.network.complete_link(session_id, number)
        await self.network.store.save()
        return {"sessionId": session_id, "phone": number}

    async def _unlink_sessions(self, number: str, sessions: list[str]) -> None:
        for session_id in sessions:
            event = LoggedOutEvent(session_id, detail=f"removed from the phone {number}")
            if not self.network.drop(session_id, event):
                self._state.revoked.add(session_id)
            self._state.forget_session(session_id)
            self.network.rate_limits.pop(session_id, None)
        await self.network.store.save()

    async def _change_members(self, group: Group, *, add: list[str], remove: list[str]) -> None:
        joining = [number for number in add if number not in group.participants]
        leaving = [number for number in remove if number in group.participants]
        staying = [number for number in group.participants if number not in leaving]
        for number in leaving:
            del group.participants[number]
        group.participants.update(dict.fromkeys(joining, False))
        if group.owner not in group.participants and group.participants:
            # The owner's phone is gone: the longest-standing member takes over.
            group.owner = next(iter(group.participants))
            group.participants[group.owner] = True
        router = self.network.router
        router.announce_membership(group, leaving, left=True)
        router.announce_membership(group, joining, joined=True)
        router.announce_membership(group, staying)
        if not group.participants:
            del self._state.groups[group.jid]

    def _apply(self, phone: Phone, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key == "name" and (not isinstance(value, str) or not 1 <= len(value) <= 100):
                raise SandboxError.invalid("name must be 1 to 100 characters")
            if key in {"online", "auto_read"} and not isinstance(value, bool):
                raise SandboxError.invalid(f"{key} must be true or false")
            if key == "auto_reply" and value is not None and value not in AUTO_REPLY_MODES:
                raise SandboxError.invalid("autoReply must be null or 'echo'")
            if (
                key == "business_name"
                and value is not None
                and (not isinstance(value, str) or not 1 <= len(value) <= 100)
            ):
                raise SandboxError.invalid("businessName must be null or 1 to 100 characters")
        for key, value in changes.items():
            setattr(phone, key, value)

    def _phone_dict(self, phone: Phone) -> dict[str, Any]:
        hub = self.network.hub
        linked = [
            (sid, (c := hub.get(sid)) is not None and c.linked)
            for sid in self._state.sessions_of(phone.number)
        ]
        return phone_dict(phone, linked)


def _number(value: str) -> str:
    try:
        return normalize_number(value if isinstance(value, str) else "")
    except InvalidJidError as exc:
        raise SandboxError.invalid(f"phone number {value!r} {exc}") from None


def _jid(value: str) -> str:
    try:
        return to_jid(value)
    except InvalidJidError as exc:
        raise SandboxError.invalid(f"chat {value!r} {exc}") from None
