"""An incoming opt-out word (``WAGATE_BROADCAST_OPT_OUT_WORDS``, ``STOP`` by
default) opts its sender out of the session owner's broadcasts. Runs in the
transaction that stores the incoming message (a handler of the session
manager's message events, beside the inbound handler)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.campaigns import contacts
from wagate.engines.base import MessageEvent
from wagate.jid import USER_SERVER, InvalidJidError, to_jid
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession

logger = logging.getLogger(__name__)


def opt_out_words(setting: str) -> frozenset[str]:
    return frozenset(word.strip().casefold() for word in setting.split(",") if word.strip())


class OptOutHandler:
    def __init__(self, manager: SessionManager, words: str) -> None:
        self.manager = manager
        self.words = opt_out_words(words)

    def register(self) -> None:
        self.manager.on_event(MessageEvent, self.on_message)

    async def on_message(
        self, db: AsyncSession, session: WhatsAppSession, event: MessageEvent
    ) -> None:
        incoming = event.message
        if incoming.from_me or incoming.is_group or incoming.edited or incoming.revoked:
            return
        if (incoming.text or "").strip().casefold() not in self.words:
            return
        try:
            sender = to_jid(incoming.sender)
        except InvalidJidError:
            return
        if not sender.endswith(f"@{USER_SERVER}"):
            return  # a hidden (LID) sender has no number to match a contact by
        if await contacts.opt_out(db, session.user_id, sender):
            logger.info("contact %s opted out of broadcasts", sender)
