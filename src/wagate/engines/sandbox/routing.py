"""How a message travels: copies for sender and recipients, receipts back, auto-replies.

A message is kept once per phone involved (the sender's "out" copy and one "in"
copy per recipient), and reaches every device linked to those accounts. The
sender's devices hear ``delivered`` when a recipient's phone is online to take
it (now, or when it comes back) and ``read`` when it reads; in a group, per
participant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from wagate.engines.base import (
    GroupUpdateEvent,
    IncomingMessage,
    MessageEvent,
    ReceiptEvent,
    ReceiptStatus,
)
from wagate.engines.sandbox.hub import ConnectionHub
from wagate.engines.sandbox.ids import new_message_id
from wagate.engines.sandbox.models import Group, MessageContent, StoredMessage
from wagate.engines.sandbox.state import NetworkState
from wagate.jid import is_group, number_of, user_jid


class MessageRouter:
    def __init__(
        self, state: NetworkState, hub: ConnectionHub, on_change: Callable[[], None]
    ) -> None:
        self._state = state
        self._hub = hub
        self._on_change = on_change

    def route(
        self,
        *,
        sender: str,
        to: str,
        content: MessageContent,
        message_id: str,
        origin_session: str | None = None,
        auto_reply: bool = False,
    ) -> StoredMessage:
        """Deliver a message from account ``sender`` to the JID ``to`` (checked by the caller).

        ``origin_session`` is the device that sent it, which already knows; the
        account's other devices see it as their own (``from_me``), as on WhatsApp.
        """
        group = self._state.groups.get(to) if is_group(to) else None
        if group is not None:
            recipients = [number for number in group.participants if number != sender]
            recipient, chat_of_recipients = group.jid, group.jid
        else:
            recipient = number_of(to)
            recipients = [] if recipient == sender else [recipient]
            chat_of_recipients = user_jid(sender)
        sender_name = self._state.phones[sender].name
        sent = StoredMessage(
            message_id=message_id,
            direction="out",
            sender=sender,
            recipient=recipient,
            chat=to,
            content=content,
            timestamp=time.time(),
            status="sent",
            sender_name=sender_name,
            auto_reply=auto_reply,
            awaiting_delivery=set(recipients),
            awaiting_read=set(recipients),
        )
        self._state.add_message(sender, sent)
        self._deliver_message(sender, sent.as_incoming(from_me=True), skip=origin_session)
        copies: list[tuple[str, StoredMessage]] = []
        for number in recipients:
            copy = StoredMessage(
                message_id=message_id,
                direction="in",
                sender=sender,
                recipient=recipient,
                chat=chat_of_recipients,
                content=content,
                timestamp=sent.timestamp,
                status="pending",
                sender_name=sender_name,
                auto_reply=auto_reply,
            )
            self._state.add_message(number, copy)
            self._deliver_message(number, copy.as_incoming(from_me=False))
            copies.append((number, copy))
        # Receipts and replies only once every copy exists, so they follow the message.
        for number, copy in copies:
            if self._state.phones[number].online:
                self._phone_received(number, copy)
        self._on_change()
        return sent

    def phone_came_online(self, number: str) -> None:
        waiting = [
            copy
            for copy in self._state.messages_of(number).values()
            if copy.direction == "in" and copy.status == "pending"
        ]
        for copy in waiting:
            self._phone_received(number, copy)
        self._on_change()

    def mark_read(self, reader: str, message_ids: Iterable[str]) -> int:
        """``reader`` read these messages of theirs; tell each sender. Returns how many."""
        by_conversation: dict[tuple[str, str], list[str]] = {}
        for message_id in dict.fromkeys(message_ids):
            copy = self._state.find_message(reader, message_id)
            if copy is None or copy.direction != "in" or not copy.advance("read"):
                continue
            chat = self._record_receipt(copy, reader, "read")
            by_conversation.setdefault((copy.sender, chat), []).append(message_id)
        for (sender, chat), ids in by_conversation.items():
            self._announce_receipt(sender, chat, ids, "read", reader)
        self._on_change()
        return sum(len(ids) for ids in by_conversation.values())

    def announce_membership(
        self, group: Group, numbers: Iterable[str], *, joined: bool = False, left: bool = False
    ) -> None:
        """Tell these members' devices the group changed (and whether they joined or left)."""
        info = group.info()
        for number in numbers:
            self._hub.deliver_to_account(
                number,
                lambda session: GroupUpdateEvent(session, info, joined=joined, left=left),
            )

    # -- the recipient's side ---------------------------------------------------

    def _phone_received(self, number: str, copy: StoredMessage) -> None:
        if not copy.advance("delivered"):
            return
        chat = self._record_receipt(copy, number, "delivered")
        self._announce_receipt(copy.sender, chat, [copy.message_id], "delivered", number)
        phone = self._state.phones[number]
        if phone.auto_read:
            self.mark_read(number, [copy.message_id])
        if phone.auto_reply == "echo" and self._worth_echoing(copy):
            self.route(
                sender=number,
                to=user_jid(copy.sender),
                content=copy.content,
                message_id=new_message_id(),
                auto_reply=True,
            )

    def _worth_echoing(self, copy: StoredMessage) -> bool:
        # Never answer an auto-reply (two echo phones would talk forever), and
        # keep groups quiet: an echo there would answer every member.
        return (
            not copy.auto_reply
            and not is_group(copy.chat)
            and copy.content.kind != "reaction"
            and copy.sender in self._state.phones
        )

    def _record_receipt(self, copy: StoredMessage, reader: str, status: ReceiptStatus) -> str:
        """Update the sender's copy; return the chat as the sender sees it."""
        sent = self._state.find_message(copy.sender, copy.message_id)
        if sent is None or sent.direction != "out":
            return copy.recipient if is_group(copy.recipient) else user_jid(reader)
        sent.awaiting_delivery.discard(reader)
        if status == "read":
            sent.awaiting_read.discard(reader)
        if not sent.awaiting_read:
            sent.advance("read")
        elif not sent.awaiting_delivery:
            sent.advance("delivered")
        return sent.chat

    def _announce_receipt(
        self, sender: str, chat: str, ids: list[str], status: ReceiptStatus, reader: str
    ) -> None:
        when = datetime.now(UTC)
        self._hub.deliver_to_account(
            sender,
            lambda session: ReceiptEvent(
                session, chat, tuple(ids), status, when, sender=user_jid(reader)
            ),
        )

    def _deliver_message(
        self, number: str, message: IncomingMessage, *, skip: str | None = None
    ) -> None:
        self._hub.deliver_to_account(
            number, lambda session: MessageEvent(session, message), skip=skip
        )
