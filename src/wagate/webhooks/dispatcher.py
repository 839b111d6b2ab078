"""The dispatcher: claims the deliveries that are due (the relay, fed by the
outbox's reader, writes them), and runs one worker per webhook with something
to send.

The loop wakes when deliveries became due (the database's
``webhook_deliveries`` signal: a relay pass, or an API change such as enabling
a webhook), when a worker ends, when the next retry is due, and at least every
``webhook_poll_seconds`` (deliveries written by another process). A worker
holds a claim on a batch of its webhook's next due deliveries (up to
``BATCH_SIZE``, oldest first) and sends them one at a time, in order; then it
records their results and, in the same transaction, claims the webhook's next
batch, so a busy webhook streams with one transaction per batch rather than per
event. One worker per webhook, one request in flight, is what keeps a healthy
webhook's events in order. A failure ends the batch at once: it is recorded
(with the successes before it) before anything more is sent, so a failed event
waits for its own retry while the ones after it go on, and a webhook that is
down (or asked to wait) is held as a whole, see
:mod:`wagate.webhooks.outcomes`. What a held batch did not send is handed back
unattempted.

Claims are leases: a process killed mid-batch leaves deliveries whose lease
lapses, and they are then due again, here or in any other process (at least
once: a delivery is marked done only after its receiver's 2xx was recorded).
A worker starts no attempt that could outlast its batch's lease. A clean
shut-down hands its claims back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wagate.analytics.metrics import Metrics
from wagate.config import Settings
from wagate.net.fetch import GuardedClients
from wagate.net.policy import url_reach
from wagate.net.ssrf import Reach
from wagate.storage.base import utcnow
from wagate.storage.db import Database, is_sqlite
from wagate.webhooks.models import Webhook
from wagate.webhooks.outcomes import Attempted, Endpoint, Outcome, RetryPolicy, record_outcomes
from wagate.webhooks.relay import WebhookRelay
from wagate.webhooks.repository import (
    DELIVERIES_TOPIC,
    ClaimedRow,
    DeliveryRepository,
    WebhookRepository,
)
from wagate.webhooks.sender import Target, WebhookSender

logger = logging.getLogger(__name__)

# A lost attempt's lease lapses this long after its timeout would have ended it.
_LEASE_MARGIN = 5.0
_MIN_IDLE = 0.05
# On shut-down, attempts under way get this long to finish before they are cut.
_CLOSE_GRACE = 2.0
_RECORD_RETRY_PAUSES = (0.1, 0.5, 2.0)
#: Deliveries of one webhook claimed (and their results recorded) together.
BATCH_SIZE = 64
# No attempt starts later than this after its batch was claimed, so that it
# ends (by the timeout) before the batch's lease lapses, with time left to
# record the batch.
_ATTEMPT_WINDOW = _LEASE_MARGIN / 2


@dataclass(slots=True)
class Batch:
    """A worker's claim: deliveries of one webhook, in the order they go out."""

    targets: list[Target]
    claimed_at: float  # time.monotonic() before the claim's transaction began
    sent: int = 0  # targets[:sent] were attempted (or are being)
    results: list[Attempted] = field(default_factory=list)


class WebhookDispatcher:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        metrics: Metrics | None = None,
        relay: WebhookRelay | None = None,
    ) -> None:
        self.database = database
        # Which webhooks the relay wrote deliveries for since the last pass.
        self.relay = relay
        self.signal = database.signals.topic(DELIVERIES_TOPIC)
        self.metrics = metrics
        self.poll_seconds = settings.webhook_poll_seconds
        self.max_in_flight = settings.webhook_max_in_flight
        self.policy = RetryPolicy(
            delays=list(settings.webhook_retry_delays),
            disable_after=timedelta(hours=settings.webhook_disable_after_hours),
        )
        self.lease = timedelta(seconds=settings.webhook_timeout + _LEASE_MARGIN)
        self.postgres = not is_sqlite(database.url)
        self.settings = settings
        self.clients = GuardedClients(timeout=settings.webhook_timeout)
        self.sender = WebhookSender(
            self.clients,
            timeout=settings.webhook_timeout,
            instance_secret=settings.resolved_secret_key,
        )
        # Each worker and the batch it holds a claim on right now.
        self._workers: dict[asyncio.Task[None], Batch] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.Task[None] | None = None
        self._closing = False
        # Set when a worker ends: the next pass must look for due deliveries.
        self._claim_wanted = True
        self._next_claim_at = 0.0  # time.monotonic() when a pass must look again

    async def start(self) -> None:
        # The deliveries signal's event doubles as our wake-up: workers ending set it too.
        self._wake = self.signal.subscribe()
        self._loop = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def close(self) -> None:
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        tasks = [t for t in (self._loop, *self._workers) if t is not None]
        # Let passes and attempts end at a safe point rather than mid-transaction.
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        batches = list(self._workers.values())
        if batches:
            attempted = [t.row.id for b in batches for t in b.targets[: b.sent]]
            unsent = [t.row for b in batches for t in b.targets[b.sent :]]
            try:
                async with self.database.transaction() as db:
                    deliveries = DeliveryRepository(db)
                    now = utcnow()
                    if attempted:
                        await deliveries.release(attempted, now)
                    await deliveries.release_unsent(unsent, now)
            except Exception:
                logger.exception(
                    "could not hand back %d webhook claims", len(attempted) + len(unsent)
                )
        if self._wake is not None:
            self.signal.unsubscribe(self._wake)
        await self.clients.aclose()

    # -- the loop -----------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closing:
            self._wake.clear()
            try:
                touched = self.relay.take_touched() if self.relay else None
                if self._must_claim(touched):
                    self._claim_wanted = False
                    idle = await self._claim()
                    self._next_claim_at = time.monotonic() + idle
                else:
                    idle = self._next_claim_at - time.monotonic()
            except Exception:
                logger.exception("webhook dispatch pass failed; trying again shortly")
                self._claim_wanted = True
                idle = self.poll_seconds
            if idle > 0 and not self._closing:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(idle):
                        await self._wake.wait()

    def _must_claim(self, touched: set[uuid.UUID] | None) -> bool:
        """Whether this pass looks for due deliveries. It need not when all it
        was woken for is new deliveries of webhooks whose worker here is
        streaming (the worker claims them after its batch): on a busy webhook
        that is every event, and each claim pass is a write transaction."""
        if self._claim_wanted or not touched or time.monotonic() >= self._next_claim_at:
            # A worker ended, or a nudge that wrote no event (a webhook enabled,
            # a delivery retried by hand), or a poll or retry time came.
            return True
        busy = {batch.targets[0].row.webhook_id for batch in self._workers.values()}
        return not touched <= busy

    async def _claim(self) -> float:
        """Start workers for what is due; returns how long the loop may sleep."""
        free = self.max_in_flight - len(self._workers)
        if free <= 0:
            return self.poll_seconds  # a worker ending wakes the loop
        clock = time.monotonic()
        now = utcnow()
        async with self.database.transaction() as db:
            deliveries = DeliveryRepository(db)
            rows = await deliveries.claim_due(
                now, now + self.lease, free, skip_locked=self.postgres
            )
            webhook_ids = {row.webhook_id for row in rows}
            owned = await WebhookRepository(db).by_ids_with_owner(webhook_ids) if rows else []
            webhooks = {
                webhook.id: (webhook, url_reach(self.settings, is_admin=owner_is_admin))
                for webhook, owner_is_admin in owned
            }
            batches = [
                [row, *await self._followers(deliveries, row, webhooks[row.webhook_id][0], now)]
                for row in rows
            ]
            due_at = await deliveries.next_due_at(now)
        for claimed in batches:
            webhook, reach = webhooks[claimed[0].webhook_id]
            batch = Batch([Target.of(row, webhook, reach) for row in claimed], clock)
            task = asyncio.create_task(self._work(batch))
            self._workers[task] = batch
            task.add_done_callback(self._worker_ended)
        if due_at is None:
            return self.poll_seconds
        wait = (due_at - utcnow()).total_seconds()
        if wait <= 0:
            # Due yet not claimed: another process holds it, or no slot was free.
            return 0.0 if rows else _MIN_IDLE
        return min(wait, self.poll_seconds)

    def _worker_ended(self, task: asyncio.Task[None]) -> None:
        # A cancelled worker (shut-down) keeps its entry: close() hands its claim back.
        if not task.cancelled():
            self._workers.pop(task, None)
            if task.exception() is not None:
                logger.error("webhook worker died", exc_info=task.exception())
        self._claim_wanted = True
        if self._wake is not None:
            self._wake.set()

    # -- workers ------------------------------------------------------------

    async def _work(self, batch: Batch) -> None:
        task = asyncio.current_task()
        assert task is not None
        following: Batch | None = batch
        while following is not None:
            self._workers[task] = following
            following = await self._deliver(following)

    async def _deliver(self, batch: Batch) -> Batch | None:
        """Send a batch in order until it is done, fails once, or its lease runs
        short; record what was sent and claim the webhook's next batch."""
        while batch.sent < len(batch.targets) and not self._closing:
            if batch.sent and time.monotonic() - batch.claimed_at > _ATTEMPT_WINDOW:
                break  # the rest could outlast the lease: handed back, claimed again
            target = batch.targets[batch.sent]
            batch.sent += 1
            outcome = await self._attempt(target)
            batch.results.append(Attempted(target.row.id, target.row.attempt, outcome))
            if not outcome.succeeded:
                break  # recorded before anything more goes out: it may hold the webhook
        for pause in (*_RECORD_RETRY_PAUSES, None):
            try:
                return await self._record(batch)
            except Exception:
                if pause is None:
                    # The leases will lapse and the deliveries be attempted again.
                    logger.exception("could not record %d webhook attempts", len(batch.results))
                    return None
                await asyncio.sleep(pause)
        return None

    async def _attempt(self, target: Target) -> Outcome:
        try:
            outcome = await self.sender.send(target)
        except Exception as exc:
            # A bug of ours must still end as a recorded (and retried) failure,
            # not as a claim nobody finishes.
            logger.exception("webhook attempt for %s failed unexpectedly", target.row.id)
            outcome = Outcome(started_at=utcnow(), duration_ms=0, error=f"internal error: {exc}")
        if self.metrics is not None:
            self.metrics.observe_webhook_delivery(
                _outcome_label(outcome), outcome.duration_ms / 1000
            )
        return outcome

    async def _record(self, batch: Batch) -> Batch | None:
        first = batch.targets[0]
        webhook_id = first.row.webhook_id
        unsent = [target.row for target in batch.targets[batch.sent :]]
        clock = time.monotonic()
        async with self.database.transaction() as db:
            now = utcnow()
            deliveries = DeliveryRepository(db)
            endpoint: Endpoint | None = None
            if batch.results:
                endpoint = await record_outcomes(
                    db, webhook_id, batch.results, now=now, policy=self.policy
                )
            await deliveries.release_unsent(unsent, now)
            if not batch.results:
                return None  # shutting down before anything was sent
            if endpoint is None or not endpoint.is_active or endpoint.held or self._closing:
                return None
            return await self._claim_next(deliveries, webhook_id, endpoint, first.reach, clock)

    async def _claim_next(
        self,
        deliveries: DeliveryRepository,
        webhook_id: uuid.UUID,
        endpoint: Endpoint,
        reach: Reach,
        clock: float,
    ) -> Batch | None:
        now = utcnow()
        lease_until = now + self.lease
        head = await deliveries.claim_next(webhook_id, now, lease_until)
        if head is None:
            return None
        rows = [head, *await self._followers(deliveries, head, endpoint, now)]
        return Batch([Target.of(row, endpoint, reach) for row in rows], clock)

    async def _followers(
        self,
        deliveries: DeliveryRepository,
        head: ClaimedRow,
        webhook: Webhook | Endpoint,
        now: datetime,
    ) -> list[ClaimedRow]:
        """The rest of a batch after its head. A webhook that has been failing
        gets its head alone: if that succeeds it may end an outage, and then
        what waited goes out from the oldest, which its result must be recorded
        for first (see :func:`wagate.webhooks.outcomes.record_outcome`)."""
        failing = webhook.failing if isinstance(webhook, Endpoint) else webhook.failed_attempts > 0
        if failing:
            return []
        return await deliveries.claim_followers(head, now, now + self.lease, BATCH_SIZE - 1)


def _outcome_label(outcome: Outcome) -> str:
    if outcome.succeeded:
        return "success"
    if outcome.status_code is None:
        return "error"
    if 300 <= outcome.status_code < 400:
        return "redirect"
    return "http_error"
