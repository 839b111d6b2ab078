"""What incoming messages mean to broadcasts, handled in the transaction that
stores the message (a handler of the session manager's message events,
registered after the inbound handler):

- an opt-out word (``WAGATE_BROADCAST_OPT_OUT_WORDS``, ``STOP`` by default) as
  the whole text opts its sender out of the session owner's broadcasts;
- any message from a campaign recipient to the session that sent it the
  campaign's message is that recipient's reply (the first one is kept)."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.campaigns import contacts
from wagate.campaigns.models import CampaignRecipient
from wagate.engines.base import MessageEvent
from wagate.jid import USER_SERVER, InvalidJidError, to_jid
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession
from wagate.storage.base import utcnow

logger = logging.getLogger(__name__)


def opt_out_words(setting: str) -> frozenset[str]:
    return frozenset(word.strip().casefold() for word in setting.split(",") if word.strip())


class BroadcastInbound:
    def __init__(self, manager: SessionManager, opt_out: str) -> None:
        self.manager = manager
        self.words = opt_out_words(opt_out)

    def register(self) -> None:
        self.manager.on_event(MessageEvent, self.on_message)

    async def on_message(
        self, db: AsyncSession, session: WhatsAppSession, event: MessageEvent
    ) -> None:
        incoming = event.message
        if incoming.from_me or incoming.is_group or incoming.edited or incoming.revoked:
            return
        try:
            sender = to_jid(incoming.sender)
        except InvalidJidError:
            return
        if not sender.endswith(f"@{USER_SERVER}"):
            return  # a hidden (LID) sender has no number to match a contact by
        await self._link_reply(db, session, sender, incoming.message_id)
        is_opt_out = (incoming.text or "").strip().casefold() in self.words
        if is_opt_out and await contacts.opt_out(db, session.user_id, sender):
            logger.info("contact %s opted out of broadcasts", sender)

    @staticmethod
    async def _link_reply(
        db: AsyncSession, session: WhatsAppSession, sender: str, message_id: str
    ) -> None:
        """The latest campaign message this session sent the sender, if unanswered."""
        recipient = (
            await db.execute(
                select(CampaignRecipient)
                .where(
                    CampaignRecipient.session_id == session.id,
                    CampaignRecipient.jid == sender,
                    CampaignRecipient.queued_at.is_not(None),
                )
                .order_by(CampaignRecipient.queued_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if recipient is not None and recipient.replied_at is None:
            recipient.replied_at = utcnow()
            recipient.reply_message_id = message_id
