"""The relay: turns outbox events into the deliveries each webhook is owed.

A cursor row remembers the last outbox ``seq`` relayed. It moves in the same
transaction that writes the deliveries, and only if nobody moved it since it
was read, so across restarts, crashes and several processes every event is
relayed exactly once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.events.models import OutboxEvent
from wagate.events.service import with_sequence
from wagate.sessions.models import WhatsAppSession
from wagate.storage.base import utcnow
from wagate.storage.db import Database
from wagate.webhooks import catalog
from wagate.webhooks.formats import SessionFacts, WebhookFormat, format_of
from wagate.webhooks.models import DeliveryStatus, RelayCursor, Webhook, WebhookDelivery
from wagate.webhooks.outbox import OutboxTail, last_seq
from wagate.webhooks.repository import CursorRepository, WebhookRepository

CURSOR_NAME = "webhooks"
_MAX_CONFLICTS = 10


class _CursorMoved(Exception):
    """Another relay advanced the cursor first; this batch is rolled back."""


class WebhookRelay:
    def __init__(self, database: Database, *, postgres: bool, batch_size: int = 500) -> None:
        self.database = database
        self.postgres = postgres
        self.batch_size = batch_size
        self._tail = OutboxTail(postgres=postgres)
        # The webhooks the last relay_pending() wrote deliveries for.
        self.touched: set[uuid.UUID] = set()

    async def relay_pending(self) -> int:
        """Relay everything that can be relayed now; returns how many events."""
        self.touched = set()
        total = 0
        conflicts = 0
        while True:
            try:
                count = await self._relay_batch()
            except (_CursorMoved, IntegrityError):
                # Another relay won the race (or a webhook went away mid-batch):
                # read again from where the cursor now is.
                conflicts += 1
                if conflicts > _MAX_CONFLICTS:
                    raise
                continue
            total += count
            if count < self.batch_size:
                return total

    async def _relay_batch(self) -> int:
        async with self.database.transaction() as db:
            cursors = CursorRepository(db)
            # On PostgreSQL relays take turns on the cursor row; SQLite has one
            # writer anyway, and the conditional advance guards both.
            cursor = await cursors.get(CURSOR_NAME, for_update=self.postgres)
            if cursor is None:
                # First start: webhooks did not exist before, so nothing earlier is owed.
                await cursors.create(RelayCursor(name=CURSOR_NAME, last_seq=await last_seq(db)))
                return 0
            events = await self._tail.read(db, cursor.last_seq, self.batch_size)
            if not events:
                return 0
            await self._fan_out(db, events)
            if not await cursors.advance(CURSOR_NAME, cursor.last_seq, events[-1].seq):
                raise _CursorMoved
            return len(events)

    async def _fan_out(self, db: AsyncSession, events: Sequence[OutboxEvent]) -> None:
        # (self.touched may name a webhook whose batch then rolled back: it only
        # makes the dispatcher look for work it need not have.)
        session_ids = {event.session_id for event in events if event.session_id is not None}
        if not session_ids:
            return
        by_session: defaultdict[uuid.UUID, list[Webhook]] = defaultdict(list)
        for webhook in await WebhookRepository(db).active_for_sessions(session_ids):
            by_session[webhook.session_id].append(webhook)
        facts = await _session_facts(db, by_session)
        now = utcnow()
        for event in events:
            if event.session_id is None:
                continue
            for webhook in by_session.get(event.session_id, []):
                if _owed(webhook, event):
                    body = format_of(webhook.format).render(
                        with_sequence(event), facts[event.session_id]
                    )
                    self.touched.add(webhook.id)
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


async def _session_facts(
    db: AsyncSession, by_session: dict[uuid.UUID, list[Webhook]]
) -> defaultdict[uuid.UUID, SessionFacts]:
    """The session facts bodies need, read only for sessions that have a
    webhook whose format uses them."""
    facts: defaultdict[uuid.UUID, SessionFacts] = defaultdict(lambda: SessionFacts(jid=None))
    wanted = [
        session_id
        for session_id, webhooks in by_session.items()
        if any(w.format != WebhookFormat.SAK for w in webhooks)
    ]
    for session_id in wanted:
        session = await db.get(WhatsAppSession, session_id)
        if session is not None:
            facts[session_id] = SessionFacts(jid=session.jid)
    return facts


def _owed(webhook: Webhook, event: OutboxEvent) -> bool:
    # A webhook gets what happened after it was registered, not history the
    # relay happens to reach late.
    if event.created_at < webhook.created_at:
        return False
    if event.type == catalog.TEST_EVENT:
        return event.payload.get("webhookId") == str(webhook.id)
    return format_of(webhook.format).wants(webhook.events, event.type)
