"""The campaign runner: one task that hands running campaigns' recipients to
the core's send queue, paced per session.

Each hand-over is one transaction that stores the message (through
``messages.sending``, so statuses, webhooks and retries are the core's) and
marks the recipient ``queued`` with the message's id, under the idempotency
key ``campaign:<recipient id>``: after a crash either both happened or
neither, so a restart resumes where it stopped and sends nothing twice.

Pacing: a session takes a campaign's next recipient no sooner than
``60 / rate_per_minute`` seconds plus a random jitter after its previous one
(measured from the stored ``queued_at``, so it holds across restarts). At most
``campaign_window`` of a campaign's messages wait in a session's queue at
once, so an interactive send never waits behind a whole campaign.

Reporting: after each pass the runner records ``campaign.progress`` (a user's
event, ``campaigns/events.py``) for a campaign whose state changed (at once)
or whose counts changed (at most once a second, the last change always
reported), from its start until an hour after it finished (late receipts), and
``campaign.completed`` once, the first time a completed campaign has no
message left waiting in a queue (so sent, failed and skipped are final).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.campaigns import events, timing
from wagate.campaigns import service as campaigns_service
from wagate.campaigns.models import (
    BroadcastContact,
    Campaign,
    CampaignRecipient,
    CampaignState,
    RecipientStatus,
)
from wagate.campaigns.repository import CampaignRepository
from wagate.config import Settings
from wagate.events.service import outbox_signal
from wagate.jid import number_of
from wagate.messages import directory, sending
from wagate.messages.models import Message
from wagate.messages.queue import OutboundQueue
from wagate.messages.service import MediaRef, OutgoingSpec
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.base import utcnow
from wagate.storage.db import Database

logger = logging.getLogger(__name__)

# Longest sleep between passes when nothing wakes the runner (a safety net).
IDLE_SECONDS = 5.0
_WAITING = ("queued", "sending")
# campaign.progress: at most this often per campaign (a state change goes at once).
PROGRESS_INTERVAL = 1.0
# How long after it finished a campaign's late receipts are still reported.
TRACK_AFTER_END = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class _Reported:
    state: str
    stats: dict[str, Any]
    at: float  # loop time


def idempotency_key(recipient_id: uuid.UUID) -> str:
    return f"campaign:{recipient_id}"


class CampaignRunner:
    def __init__(
        self,
        database: Database,
        manager: SessionManager,
        queue: OutboundQueue,
        settings: Settings,
    ) -> None:
        self.database = database
        self.manager = manager
        self.queue = queue
        self.settings = settings
        # Acks and session changes write outbox events: a window may have room.
        self.signal = outbox_signal(database)
        # What each campaign's last campaign.progress said (this process's).
        self._reported: dict[uuid.UUID, _Reported] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Each (campaign, session)'s jitter for its next send, drawn once per send.
        self._jitter: dict[tuple[uuid.UUID, uuid.UUID], float] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="campaign-runner")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        outbox = self.signal.subscribe()
        try:
            while True:
                self._wake.clear()
                outbox.clear()
                try:
                    delay = await self.run_once()
                except Exception:
                    logger.exception("campaign pass failed; retrying")
                    delay = IDLE_SECONDS
                waiters = [
                    asyncio.create_task(self._wake.wait()),
                    asyncio.create_task(outbox.wait()),
                ]
                try:
                    await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            self.signal.unsubscribe(outbox)

    async def run_once(self) -> float:
        """One pass over the running campaigns (starting the scheduled ones that
        are due); returns how long until the next pass is due."""
        delay = IDLE_SECONDS
        async with self.database.transaction() as db:
            repository = CampaignRepository(db)
            now = utcnow()
            for campaign in await repository.scheduled():
                assert campaign.scheduled_at is not None
                if campaign.scheduled_at <= now:
                    campaign.state = CampaignState.RUNNING
                    campaign.started_at = now
                else:
                    delay = min(delay, (campaign.scheduled_at - now).total_seconds())
            await db.flush()
            campaign_ids = [c.id for c in await repository.running()]
        for campaign_id in campaign_ids:
            async with self.database.transaction() as db:
                delay = min(delay, await self._advance(db, campaign_id))
        async with self.database.transaction() as db:
            delay = min(delay, await self._report(db))
        return max(delay, 0.01)

    async def _report(self, db: AsyncSession) -> float:
        """Record the progress and completion events that are due; returns how
        long until a throttled report is due."""
        loop_now = asyncio.get_running_loop().time()
        delay = IDLE_SECONDS
        tracked = await CampaignRepository(db).tracked(utcnow() - TRACK_AFTER_END)
        for campaign in tracked:
            last = self._reported.get(campaign.id)
            if last is not None and last.state == campaign.state:
                wait = last.at + PROGRESS_INTERVAL - loop_now
                if wait > 0:
                    # Something woke us: counts may have moved; look again then.
                    delay = min(delay, wait)
                    continue
            progress = await campaigns_service.progress(db, campaign)
            stats = events.stats_of(progress)
            if last is None or last.state != campaign.state or last.stats != stats:
                await events.record(db, events.PROGRESS, campaign, progress)
                # Timed from the record, not the pass's start: the next one of this
                # state is then at least the interval after this one.
                recorded_at = asyncio.get_running_loop().time()
                self._reported[campaign.id] = _Reported(campaign.state, stats, recorded_at)
            if (
                campaign.state == CampaignState.COMPLETED
                and campaign.completion_reported_at is None
                and progress.queued == 0
                and await CampaignRepository(db).mark_completion_reported(campaign.id, utcnow())
            ):
                await events.record(db, events.COMPLETED, campaign, progress)
        live = {campaign.id for campaign in tracked}
        for campaign_id in [c for c in self._reported if c not in live]:
            del self._reported[campaign_id]
        return delay

    async def _advance(self, db: AsyncSession, campaign_id: uuid.UUID) -> float:
        campaign = await db.get(Campaign, campaign_id, with_for_update=False)
        if campaign is None or campaign.state != CampaignState.RUNNING:
            return IDLE_SECONDS
        if campaign.quiet_start and campaign.quiet_end:
            quiet = timing.quiet_for(
                utcnow(), campaign.quiet_start, campaign.quiet_end, campaign.time_zone
            )
            if quiet > 0:
                return quiet
        repository = CampaignRepository(db)
        pending = await repository.next_pending(campaign.id, self.settings.campaign_window * 10)
        if not pending:
            if await repository.pending_count(campaign.id):
                return IDLE_SECONDS  # held by another gateway process's runner
            campaign.state = CampaignState.COMPLETED
            campaign.finished_at = utcnow()
            return IDLE_SECONDS
        sessions = await self._connected(db, campaign)
        delay = IDLE_SECONDS
        rooms: dict[uuid.UUID, int] = {}
        for session in sessions:
            room, wait = await self._room(db, campaign, session)
            delay = min(delay, wait)
            if room:
                rooms[session.id] = room
        # Weighted round robin: each session takes its weight in turn while it has room.
        queue = list(pending)
        weights = campaign.session_weights or {}
        while queue and rooms:
            for session in sessions:
                for _ in range(max(int(weights.get(str(session.id), 1)), 1)):
                    if not queue or rooms.get(session.id, 0) == 0:
                        break
                    await self._hand_over(db, campaign, session, queue.pop(0))
                    rooms[session.id] -= 1
                    if rooms[session.id] == 0:
                        del rooms[session.id]
                    if campaign.rate_per_minute:
                        delay = min(delay, self._interval(campaign, session.id))
        return delay

    async def _connected(self, db: AsyncSession, campaign: Campaign) -> list[WhatsAppSession]:
        sessions = SessionRepository(db)
        found = []
        for raw in campaign.session_ids:
            session = await sessions.get_by_id(uuid.UUID(raw))
            if session is not None and session.session_state is SessionState.CONNECTED:
                found.append(session)
        random.shuffle(found)
        return found

    def _interval(self, campaign: Campaign, session_id: uuid.UUID) -> float:
        key = (campaign.id, session_id)
        if key not in self._jitter:
            self._jitter[key] = random.uniform(0, campaign.jitter_seconds)  # noqa: S311
        return 60.0 / campaign.rate_per_minute + self._jitter[key]

    async def _room(
        self, db: AsyncSession, campaign: Campaign, session: WhatsAppSession
    ) -> tuple[int, float]:
        """How many recipients ``session`` may take now, and else when to look again."""
        waiting = await db.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .join(
                Message,
                (Message.session_id == CampaignRecipient.session_id)
                & (Message.message_id == CampaignRecipient.message_id),
            )
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.session_id == session.id,
                Message.status.in_(_WAITING),
            )
        )
        room = max(self.settings.campaign_window - int(waiting or 0), 0)
        if campaign.daily_cap is not None:
            now = utcnow()
            today = timing.day_start(now, campaign.time_zone)
            sent_today = await db.scalar(
                select(func.count())
                .select_from(CampaignRecipient)
                .where(
                    CampaignRecipient.campaign_id == campaign.id,
                    CampaignRecipient.session_id == session.id,
                    CampaignRecipient.queued_at >= today,
                )
            )
            left = campaign.daily_cap - int(sent_today or 0)
            if left <= 0:
                tomorrow = (today + timedelta(days=1)) - now
                return 0, min(tomorrow.total_seconds(), IDLE_SECONDS * 60)
            room = min(room, left)
        if not campaign.rate_per_minute:
            return room, IDLE_SECONDS
        last: datetime | None = await db.scalar(
            select(func.max(CampaignRecipient.queued_at)).where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.session_id == session.id,
            )
        )
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=utcnow().tzinfo)
        if last is not None:
            due = last + timedelta(seconds=self._interval(campaign, session.id))
            remaining = (due - utcnow()).total_seconds()
            if remaining > 0:
                return 0, remaining
        return min(room, 1), IDLE_SECONDS

    async def _hand_over(
        self,
        db: AsyncSession,
        campaign: Campaign,
        session: WhatsAppSession,
        recipient: CampaignRecipient,
    ) -> None:
        opted_out = await db.scalar(
            select(BroadcastContact.opted_out).where(BroadcastContact.id == recipient.contact_id)
        )
        if opted_out:
            recipient.status = RecipientStatus.SKIPPED
            recipient.reason = "opted out"
            return
        if campaign.check_numbers:
            [check] = await directory.check_numbers(
                self.manager, session, [number_of(recipient.jid)]
            )
            if not check.on_whatsapp:
                recipient.status = RecipientStatus.SKIPPED
                recipient.reason = "not on WhatsApp"
                return
        submitted = await sending.submit(
            db,
            self.manager,
            self.queue,
            session,
            self._spec(campaign, recipient),
            idempotency_key=idempotency_key(recipient.id),
        )
        recipient.status = RecipientStatus.QUEUED
        recipient.session_id = session.id
        recipient.message_id = submitted.message_id
        recipient.queued_at = utcnow()
        self._jitter.pop((campaign.id, session.id), None)

    @staticmethod
    def _spec(campaign: Campaign, recipient: CampaignRecipient) -> OutgoingSpec:
        media = campaign.media
        typing = campaign.typing_ms or None
        if not media:
            return OutgoingSpec(
                kind="text", to=recipient.jid, text=recipient.text, typing_delay_ms=typing
            )
        return OutgoingSpec(
            kind=media["kind"],
            to=recipient.jid,
            caption=recipient.text or None,
            typing_delay_ms=typing,
            media=MediaRef(
                sha256=media["sha256"],
                size=media["size"],
                mimetype=media["mimetype"],
                filename=media.get("filename"),
            ),
        )
