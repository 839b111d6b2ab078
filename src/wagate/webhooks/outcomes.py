"""What an attempt's result does to its delivery and to its webhook.

Takes a DB session and plain values; never commits. The dispatcher sends a
webhook's claimed deliveries one at a time and then records their results
together with :func:`record_outcomes`, in one transaction: the successes of a
batch are a few statements whatever their number (one UPDATE of the
deliveries, one INSERT of the attempts, one UPDATE of the webhook), and a
failure goes through :func:`record_outcome`, which decides retries, holds and
disabling.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics.service import record_activity
from wagate.events.service import record_event
from wagate.webhooks import catalog
from wagate.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from wagate.webhooks.repository import DeliveryRepository
from wagate.webhooks.retry import RETRY_AFTER_CAP, next_delay

GONE = 410
# Failures of this many different events in a row, with no success between,
# mean the endpoint is down rather than choking on one event.
DOWN_AFTER_EVENTS = 3


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one HTTP attempt came to."""

    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, from a 429/503's Retry-After
    permanent: bool = False  # no retry can help (the body cannot be encoded)
    refused: bool = False  # the outbound request policy refused the URL's address

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    delays: Sequence[float]
    disable_after: timedelta


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook as it stands after an attempt was recorded."""

    url: str
    secret_encrypted: str
    send_secret_header: bool
    is_active: bool
    format: str
    held: bool = False  # down or asked to wait: nothing more is sent for now
    failing: bool = False  # failures since its last success


async def record_outcome(
    db: AsyncSession,
    delivery_id: uuid.UUID,
    webhook_id: uuid.UUID,
    attempt: int,
    outcome: Outcome,
    *,
    now: datetime,
    policy: RetryPolicy,
) -> Endpoint | None:
    """Store the attempt, move its delivery on, and count it for its webhook.

    Returns the webhook as it now stands, or None when the webhook is gone or
    the claim had lapsed (the delivery moved on without this attempt: it is
    kept as history, but its result decides nothing any more).
    """
    values, next_at = _settle(outcome, attempt, now, policy)
    moved = await db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.DELIVERING.value,
            WebhookDelivery.attempts == attempt,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    current = getattr(moved, "rowcount", 0) == 1
    if not current and await db.get(WebhookDelivery, delivery_id) is None:
        return None  # the webhook was deleted while the attempt was under way
    await db.execute(
        insert(WebhookAttempt).values(
            id=uuid.uuid4(),
            delivery_id=delivery_id,
            attempt=attempt,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            attempted_at=outcome.started_at,
            next_retry_at=next_at if current else None,
        )
    )
    if not current:
        return None
    if outcome.succeeded:
        return await _count_success(db, webhook_id, now)
    webhook = await db.get(Webhook, webhook_id, with_for_update=True)
    if webhook is None:
        return None
    await _count_failure(db, webhook, outcome, now, policy)
    await db.flush()
    held = webhook.hold_until is not None and webhook.hold_until > now
    return Endpoint(
        webhook.url,
        webhook.secret_encrypted,
        webhook.send_secret_header,
        webhook.is_active,
        webhook.format,
        held,
        failing=webhook.failed_attempts > 0,
    )


@dataclass(frozen=True, slots=True)
class Attempted:
    """One claimed delivery's attempt: which claim (the delivery and its
    attempt number) and what came of it."""

    delivery_id: uuid.UUID
    attempt: int
    outcome: Outcome


async def record_outcomes(
    db: AsyncSession,
    webhook_id: uuid.UUID,
    attempts: Sequence[Attempted],
    *,
    now: datetime,
    policy: RetryPolicy,
) -> Endpoint | None:
    """Record the attempts of one webhook's deliveries, made in this order, as
    :func:`record_outcome` would one after another, but with each run of
    successes written in a few statements. Returns the webhook as it stands
    after the last, or None when it is gone or a claim had lapsed (the
    dispatcher then stops sending to it for now).
    """
    endpoint: Endpoint | None = None
    index = 0
    while index < len(attempts):
        if not attempts[index].outcome.succeeded:
            item = attempts[index]
            endpoint = await record_outcome(
                db,
                item.delivery_id,
                webhook_id,
                item.attempt,
                item.outcome,
                now=now,
                policy=policy,
            )
            index += 1
        else:
            end = index
            while end < len(attempts) and attempts[end].outcome.succeeded:
                end += 1
            endpoint = await _record_successes(db, webhook_id, attempts[index:end], now, policy)
            index = end
        if endpoint is None:
            # Whatever is left was attempted on a claim that decides nothing
            # now: kept as history, one at a time (the rare path).
            await _record_each(db, webhook_id, attempts[index:], now, policy)
            return None
    return endpoint


async def _record_each(
    db: AsyncSession,
    webhook_id: uuid.UUID,
    attempts: Sequence[Attempted],
    now: datetime,
    policy: RetryPolicy,
) -> None:
    for item in attempts:
        await record_outcome(
            db, item.delivery_id, webhook_id, item.attempt, item.outcome, now=now, policy=policy
        )


async def _record_successes(
    db: AsyncSession,
    webhook_id: uuid.UUID,
    attempts: Sequence[Attempted],
    now: datetime,
    policy: RetryPolicy,
) -> Endpoint | None:
    """Mark deliveries that got a 2xx as succeeded, store their attempts, and
    count the success for their webhook: one statement each, not one per
    delivery. A delivery whose claim lapsed meanwhile (taken again, or its
    webhook deleted) is left to :func:`record_outcome`."""
    current: set[uuid.UUID] = set()
    by_code: dict[int | None, list[Attempted]] = {}
    for item in attempts:
        by_code.setdefault(item.outcome.status_code, []).append(item)
    for code, items in by_code.items():
        moved = await db.execute(
            update(WebhookDelivery)
            .where(
                tuple_(WebhookDelivery.id, WebhookDelivery.attempts).in_(
                    [(item.delivery_id, item.attempt) for item in items]
                ),
                WebhookDelivery.status == DeliveryStatus.DELIVERING.value,
            )
            .values(
                status=DeliveryStatus.SUCCEEDED.value,
                lease_until=None,
                last_status_code=code,
                last_error=None,
                next_attempt_at=None,
                finished_at=now,
            )
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        current.update(moved.scalars().all())
    settled = [item for item in attempts if item.delivery_id in current]
    if settled:
        await db.execute(
            insert(WebhookAttempt),
            [
                {
                    "id": uuid.uuid4(),
                    "delivery_id": item.delivery_id,
                    "attempt": item.attempt,
                    "status_code": item.outcome.status_code,
                    "duration_ms": item.outcome.duration_ms,
                    "error": None,
                    "attempted_at": item.outcome.started_at,
                    "next_retry_at": None,
                }
                for item in settled
            ],
        )
    endpoint = await _count_success(db, webhook_id, now) if settled else None
    if len(settled) == len(attempts):
        return endpoint
    lapsed = [item for item in attempts if item.delivery_id not in current]
    await _record_each(db, webhook_id, lapsed, now, policy)
    return None


async def _count_success(db: AsyncSession, webhook_id: uuid.UUID, now: datetime) -> Endpoint | None:
    """A success ends any failing streak and any hold of its webhook."""
    recovered = await db.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id, Webhook.hold_until.is_not(None))
        .values(hold_until=None)
    )
    if getattr(recovered, "rowcount", 0) == 1:
        # Back after it was down: what waited goes out in order from the oldest.
        await DeliveryRepository(db).hurry_pending(webhook_id, now)
    row = (
        await db.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(failed_attempts=0, failing_since=None, last_success_at=now)
            .returning(
                Webhook.url,
                Webhook.secret_encrypted,
                Webhook.send_secret_header,
                Webhook.is_active,
                Webhook.format,
            )
        )
    ).one_or_none()
    return Endpoint(*row) if row is not None else None


def _settle(
    outcome: Outcome, attempt: int, now: datetime, policy: RetryPolicy
) -> tuple[dict[str, Any], datetime | None]:
    """The delivery's new columns, and when it will be tried again (if it will)."""
    values: dict[str, Any] = {
        "lease_until": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    delay = None
    if not outcome.succeeded and not outcome.permanent:
        delay = next_delay(policy.delays, attempt, outcome.retry_after)
    if delay is None:
        status = DeliveryStatus.SUCCEEDED if outcome.succeeded else DeliveryStatus.FAILED
        values.update(status=status.value, next_attempt_at=None, finished_at=now)
        return values, None
    next_at = now + timedelta(seconds=delay)
    values.update(status=DeliveryStatus.PENDING.value, next_attempt_at=next_at)
    return values, next_at


async def _count_failure(
    db: AsyncSession,
    webhook: Webhook,
    outcome: Outcome,
    now: datetime,
    policy: RetryPolicy,
) -> None:
    webhook.failed_attempts += 1
    if webhook.failing_since is None:
        webhook.failing_since = outcome.started_at
    if not webhook.is_active:
        return
    if outcome.refused:
        await disable(db, webhook, "refused")
    elif outcome.status_code == GONE:
        await disable(db, webhook, "gone")
    elif now - webhook.failing_since >= policy.disable_after:
        await disable(db, webhook, "failing")
    elif outcome.retry_after is not None:
        # The endpoint asked for a pause: it holds for every event, not just this one.
        webhook.hold_until = now + timedelta(seconds=min(outcome.retry_after, RETRY_AFTER_CAP))
    elif await _is_down(db, webhook):
        # Every recent event failed: hold them all and let one probe go out
        # now and then, backing off as a single event's retries do.
        probes = webhook.failed_attempts - DOWN_AFTER_EVENTS + 1
        delay = next_delay(policy.delays, min(probes, len(policy.delays) - 1)) or 0.0
        webhook.hold_until = now + timedelta(seconds=delay)


async def _is_down(db: AsyncSession, webhook: Webhook) -> bool:
    """Whether the last ``DOWN_AFTER_EVENTS`` different events all failed (no
    success since the failures began): an endpoint that chokes on one event
    alone is not down, and its other events keep flowing."""
    if webhook.failed_attempts < DOWN_AFTER_EVENTS or webhook.failing_since is None:
        return False
    failing_events = await db.scalar(
        select(func.count(func.distinct(WebhookAttempt.delivery_id)))
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(
            WebhookDelivery.webhook_id == webhook.id,
            WebhookAttempt.attempted_at >= webhook.failing_since,
        )
    )
    return int(failing_events or 0) >= DOWN_AFTER_EVENTS


async def disable(db: AsyncSession, webhook: Webhook, reason: str) -> None:
    """Stop delivering to an endpoint, and say so in the outbox (live streams
    and the session's other webhooks see it). What it is owed stays pending."""
    webhook.is_active = False
    webhook.disabled_reason = reason
    since = webhook.failing_since
    await record_activity(
        db,
        user_id=webhook.user_id,
        action="webhook.disabled",
        metadata={"webhookId": str(webhook.id), "reason": reason},
    )
    await record_event(
        db,
        user_id=webhook.user_id,
        session_id=webhook.session_id,
        event_type=catalog.DISABLED_EVENT,
        data={
            "webhookId": str(webhook.id),
            "url": webhook.url,
            "reason": reason,
            "failedAttempts": webhook.failed_attempts,
            "failingSince": int(since.timestamp()) if since else None,
        },
    )
