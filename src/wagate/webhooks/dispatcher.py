"""The dispatcher: claims the deliveries that are due (the relay, fed by the
outbox's reader, writes them), and runs one worker per webhook with something
to send.

The loop wakes when deliveries became due (the database's ``webhook_deliveries``
signal: a relay pass, or an API change such as enabling a webhook), when a
worker ends, when the next retry is due, and at least every
``webhook_poll_seconds`` (deliveries written by another process). A worker
sends its delivery, records the result and, in the same transaction, claims
that webhook's next due delivery, so a busy webhook streams without a trip
through the loop per event; one worker per webhook is what keeps a healthy
webhook's events in order. A failed event waits for its own retry while the
ones after it go on; a webhook that is down (or asked to wait) is held as a
whole, see :mod:`wagate.webhooks.outcomes`.

Claims are leases: a process killed mid-attempt leaves a delivery whose lease
lapses, and it is then due again, here or in any other process. A clean
shut-down hands its claims back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta

from wagate.analytics.metrics import Metrics
from wagate.config import Settings
from wagate.net.fetch import GuardedClients
from wagate.net.policy import url_reach
from wagate.storage.base import utcnow
from wagate.storage.db import Database, is_sqlite
from wagate.webhooks.outcomes import Outcome, RetryPolicy, record_outcome
from wagate.webhooks.repository import DELIVERIES_TOPIC, DeliveryRepository, WebhookRepository
from wagate.webhooks.sender import Target, WebhookSender

logger = logging.getLogger(__name__)

# A lost attempt's lease lapses this long after its timeout would have ended it.
_LEASE_MARGIN = 5.0
_MIN_IDLE = 0.05
# On shut-down, attempts under way get this long to finish before they are cut.
_CLOSE_GRACE = 2.0
_RECORD_RETRY_PAUSES = (0.1, 0.5, 2.0)


class WebhookDispatcher:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
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
        # Each worker and the delivery it holds a claim on right now.
        self._workers: dict[asyncio.Task[None], uuid.UUID] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.Task[None] | None = None
        self._closing = False

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
        claimed = list(self._workers.values())
        if claimed:
            try:
                async with self.database.transaction() as db:
                    await DeliveryRepository(db).release(claimed, utcnow())
            except Exception:
                logger.exception("could not hand back %d webhook claims", len(claimed))
        if self._wake is not None:
            self.signal.unsubscribe(self._wake)
        await self.clients.aclose()

    # -- the loop -----------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closing:
            self._wake.clear()
            try:
                idle = await self._claim()
            except Exception:
                logger.exception("webhook dispatch pass failed; trying again shortly")
                idle = self.poll_seconds
            if idle > 0 and not self._closing:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(idle):
                        await self._wake.wait()

    async def _claim(self) -> float:
        """Start workers for what is due; returns how long the loop may sleep."""
        free = self.max_in_flight - len(self._workers)
        if free <= 0:
            return self.poll_seconds  # a worker ending wakes the loop
        now = utcnow()
        async with self.database.transaction() as db:
            deliveries = DeliveryRepository(db)
            rows = await deliveries.claim_due(
                now, now + self.lease, free, skip_locked=self.postgres
            )
            webhook_ids = {row.webhook_id for row in rows}
            owned = await WebhookRepository(db).by_ids_with_owner(webhook_ids) if rows else []
            due_at = await deliveries.next_due_at(now)
        webhooks = {
            webhook.id: (webhook, url_reach(self.settings, is_admin=owner_is_admin))
            for webhook, owner_is_admin in owned
        }
        for row in rows:
            webhook, reach = webhooks[row.webhook_id]
            task = asyncio.create_task(self._work(Target.of(row, webhook, reach)))
            self._workers[task] = row.id
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
        if self._wake is not None:
            self._wake.set()

    # -- workers ------------------------------------------------------------

    async def _work(self, target: Target) -> None:
        task = asyncio.current_task()
        assert task is not None
        next_target: Target | None = target
        while next_target is not None:
            self._workers[task] = next_target.row.id
            next_target = await self._attempt(next_target)

    async def _attempt(self, target: Target) -> Target | None:
        """Send, record, and claim the same webhook's next due delivery."""
        row = target.row
        try:
            outcome = await self.sender.send(target)
        except Exception as exc:
            # A bug of ours must still end as a recorded (and retried) failure,
            # not as a claim nobody finishes.
            logger.exception("webhook attempt for %s failed unexpectedly", row.id)
            outcome = Outcome(started_at=utcnow(), duration_ms=0, error=f"internal error: {exc}")
        if self.metrics is not None:
            self.metrics.observe_webhook_delivery(
                _outcome_label(outcome), outcome.duration_ms / 1000
            )
        for pause in (*_RECORD_RETRY_PAUSES, None):
            try:
                return await self._record(target, outcome)
            except Exception:
                if pause is None:
                    # The lease will lapse and the delivery be attempted again.
                    logger.exception("could not record webhook attempt for %s", row.id)
                    return None
                await asyncio.sleep(pause)
        return None

    async def _record(self, target: Target, outcome: Outcome) -> Target | None:
        row = target.row
        async with self.database.transaction() as db:
            now = utcnow()
            endpoint = await record_outcome(
                db,
                row.id,
                row.webhook_id,
                row.attempt,
                outcome,
                now=now,
                policy=self.policy,
            )
            if endpoint is None or not endpoint.is_active or endpoint.held or self._closing:
                return None
            following = await DeliveryRepository(db).claim_next(
                row.webhook_id, now, now + self.lease
            )
            if following is None:
                return None
            return Target.of(following, endpoint, target.reach)


def _outcome_label(outcome: Outcome) -> str:
    if outcome.succeeded:
        return "success"
    if outcome.status_code is None:
        return "error"
    if 300 <= outcome.status_code < 400:
        return "redirect"
    return "http_error"
