"""The relay: turns outbox events into the deliveries each webhook is owed.

It is a consumer of the outbox's one reader (``events/reader.py``). A cursor
row remembers the last outbox ``seq`` relayed. It moves in the same
transaction that writes the deliveries, and only if nobody moved it since it
was read, so across restarts, crashes and several processes every event is
relayed exactly once.

An event of a session goes to that session's webhooks and to its user's
user-level webhooks (no session) that subscribe to it; an event of a user (no
session: a campaign's progress) only to that user's user-level webhooks.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.events.models import OutboxEvent
from wagate.events.reader import Conflict
from wagate.events.service import with_sequence
from wagate.events.tail import last_seq
from wagate.sessions.models import WhatsAppSession
from wagate.storage.base import utcnow
from wagate.webhooks import catalog
from wagate.webhooks.formats import SessionFacts, WebhookFormat, format_of
from wagate.webhooks.models import DeliveryStatus, RelayCursor, Webhook, WebhookDelivery
from wagate.webhooks.repository import (
    CursorRepository,
    WebhookRepository,
    deliveries_due_on_commit,
)

CURSOR_NAME = "webhooks"


class WebhookRelay:
    """The outbox consumer (``events.reader.OutboxConsumer``) behind webhooks."""

    def __init__(self, *, postgres: bool) -> None:
        self.postgres = postgres
        # The cursor as this pass read it (the conditional advance compares it).
        self._read_at: int | None = None
        # The webhooks deliveries were written for since the dispatcher last asked.
        self._touched: set[uuid.UUID] = set()

    def take_touched(self) -> set[uuid.UUID]:
        """Which webhooks got deliveries since the last call (a passed batch that then
        rolled back may be named too: that only makes the dispatcher look for work
        it need not have)."""
        touched, self._touched = self._touched, set()
        return touched

    async def position(self, db: AsyncSession) -> int | None:
        cursors = CursorRepository(db)
        # On PostgreSQL relays take turns on the cursor row; SQLite has one
        # writer anyway, and the conditional advance guards both.
        cursor = await cursors.get(CURSOR_NAME, for_update=self.postgres)
        if cursor is None:
            # First start: webhooks did not exist before, so nothing earlier is owed.
            start = await last_seq(db)
            await cursors.create(RelayCursor(name=CURSOR_NAME, last_seq=start))
            self._read_at = start
        else:
            self._read_at = cursor.last_seq
        return self._read_at

    async def take(self, db: AsyncSession, events: Sequence[OutboxEvent]) -> None:
        assert self._read_at is not None
        if await self._fan_out(db, events):
            deliveries_due_on_commit(db)
        if not await CursorRepository(db).advance(CURSOR_NAME, self._read_at, events[-1].seq):
            raise Conflict("another relay advanced the webhook cursor first")
        self._read_at = events[-1].seq

    async def _fan_out(self, db: AsyncSession, events: Sequence[OutboxEvent]) -> int:
        """Store the deliveries ``events`` owe; returns how many."""
        session_ids = {event.session_id for event in events if event.session_id is not None}
        user_ids = {event.user_id for event in events}
        by_session: defaultdict[uuid.UUID, list[Webhook]] = defaultdict(list)
        by_user: defaultdict[uuid.UUID, list[Webhook]] = defaultdict(list)
        for webhook in await WebhookRepository(db).active_for(session_ids, user_ids):
            if webhook.session_id is None:
                by_user[webhook.user_id].append(webhook)
            else:
                by_session[webhook.session_id].append(webhook)
        if not by_session and not by_user:
            return 0
        facts = _SessionFacts(db)
        now = utcnow()
        count = 0
        for event in events:
            webhooks = by_user.get(event.user_id, [])
            if event.session_id is not None:
                webhooks = by_session.get(event.session_id, []) + webhooks
            for webhook in webhooks:
                if _owed(webhook, event):
                    form = format_of(webhook.format)
                    session_facts = (
                        await facts.of(event.session_id)
                        if webhook.format != WebhookFormat.SAK
                        else _NO_FACTS
                    )
                    body = form.render(with_sequence(event), session_facts)
                    count += 1
                    self._touched.add(webhook.id)
                    db.add(
                        WebhookDelivery(
                            webhook_id=webhook.id,
                            user_id=webhook.user_id,
                            event_seq=event.seq,
                            event_id=event.id,
                            event_type=event.type,
                            payload=body,
                            status=DeliveryStatus.PENDING,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
        await db.flush()
        return count


_NO_FACTS = SessionFacts(jid=None)


class _SessionFacts:
    """The session facts bodies need, read once per session, and only for a
    webhook whose format uses them."""

    def __init__(self, db: AsyncSession) -> None:
        self._db = db
        self._known: dict[uuid.UUID, SessionFacts] = {}

    async def of(self, session_id: uuid.UUID | None) -> SessionFacts:
        if session_id is None:
            return _NO_FACTS
        if session_id not in self._known:
            session = await self._db.get(WhatsAppSession, session_id)
            self._known[session_id] = SessionFacts(jid=session.jid if session else None)
        return self._known[session_id]


def _owed(webhook: Webhook, event: OutboxEvent) -> bool:
    # A webhook gets what happened after it was registered, not history the
    # relay happens to reach late; a user-level webhook only its user's events.
    if event.created_at < webhook.created_at:
        return False
    if webhook.session_id is None and event.user_id != webhook.user_id:
        return False
    if event.type == catalog.TEST_EVENT:
        return event.payload.get("webhookId") == str(webhook.id)
    return format_of(webhook.format).wants(webhook.events, event.type)
