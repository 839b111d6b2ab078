"""Webhooks: registering endpoints, their secrets, tests and redelivery.

Takes a DB session and plain values; never commits. What happens to a
delivery after an attempt is in :mod:`wagate.webhooks.outcomes`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics.service import record_activity
from wagate.auth.models import User
from wagate.errors import AppError, ErrorCode, not_found
from wagate.events.models import OutboxEvent
from wagate.events.service import record_event
from wagate.net.ssrf import Reach, UnsafeURLError, check_url
from wagate.sessions import service as sessions_service
from wagate.storage.base import utcnow
from wagate.webhooks import catalog
from wagate.webhooks.crypto import encrypt_secret
from wagate.webhooks.formats import WebhookFormat
from wagate.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from wagate.webhooks.repository import (
    DeliveryRepository,
    WebhookRepository,
    deliveries_due_on_commit,
)
from wagate.webhooks.signing import generate_secret


@dataclass(frozen=True, slots=True)
class WebhookWithSecret:
    webhook: Webhook
    secret: str  # shown once, when created or rotated


@dataclass(frozen=True, slots=True)
class DeliveryHistory:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def _events(names: Sequence[str], *, user_level: bool) -> list[str]:
    try:
        events = catalog.normalize_events(names)
    except catalog.UnknownEventError as exc:
        known = ", ".join([*catalog.SUBSCRIBABLE, *catalog.ALIASES, catalog.ALL_EVENTS])
        raise AppError(
            ErrorCode.VALIDATION_ERROR,
            f"events: unknown event {', '.join(map(repr, exc.names))}; use any of {known}",
        ) from exc
    misplaced = [] if user_level else catalog.user_level(events)
    if misplaced:
        raise AppError(
            ErrorCode.VALIDATION_ERROR,
            f"events: {', '.join(map(repr, misplaced))} belong to a user, not to a session: "
            "register a webhook without sessionId to receive them",
        )
    return events


async def _checked_url(url: str, *, reach: Reach) -> str:
    try:
        await check_url(url, reach=reach)
    except UnsafeURLError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"url: {exc.reason}") from exc
    return url


async def create(
    db: AsyncSession,
    user: User,
    *,
    session_id: uuid.UUID | None,
    url: str,
    events: Sequence[str],
    send_secret_header: bool,
    instance_secret: str,
    reach: Reach,
    format: WebhookFormat = WebhookFormat.SAK,
    ip_address: str | None = None,
) -> WebhookWithSecret:
    """A webhook for one session's events, or (``session_id`` None) a user-level
    one: the user's own events (``campaign.*``) and, for the session events it
    subscribes to, those of every session of the user's."""
    if session_id is not None:
        session_id = (await sessions_service.get_owned(db, user, session_id)).id
    subscribed = _events(events, user_level=session_id is None)
    await _checked_url(url, reach=reach)
    secret = generate_secret()
    webhook = Webhook(
        user_id=user.id,
        session_id=session_id,
        url=url,
        events=subscribed,
        secret_encrypted=encrypt_secret(secret, instance_secret),
        send_secret_header=send_secret_header,
        format=format,
        created_at=utcnow(),
    )
    await WebhookRepository(db).create(webhook)
    await _audit(db, webhook, "webhook.create", ip_address)
    return WebhookWithSecret(webhook, secret)


async def set_session_webhook(
    db: AsyncSession,
    user: User,
    session_id: uuid.UUID,
    url: str | None,
    *,
    format: WebhookFormat,
    instance_secret: str,
    reach: Reach,
    ip_address: str | None = None,
) -> Webhook | None:
    """A session's one webhook of ``format`` (faces whose seed gives a session a
    single ``webhook_url``): created, pointed at ``url``, or deleted when ``url``
    is empty. Its events are all the format carries."""
    current = [w for w in await list_owned(db, user, session_id) if w.format == format]
    if not url:
        for webhook in current:
            await delete(db, user, webhook.id, ip_address=ip_address)
        return None
    if current:
        return await update(
            db,
            user,
            current[0].id,
            url=url,
            events=None,
            is_active=True,
            send_secret_header=None,
            reach=reach,
            ip_address=ip_address,
        )
    created = await create(
        db,
        user,
        session_id=session_id,
        url=url,
        events=[catalog.ALL_EVENTS],
        send_secret_header=False,
        instance_secret=instance_secret,
        reach=reach,
        format=format,
        ip_address=ip_address,
    )
    return created.webhook


async def get_owned(db: AsyncSession, user: User, webhook_id: uuid.UUID) -> Webhook:
    webhook = await WebhookRepository(db).get_for(user.id, webhook_id)
    if webhook is None:
        raise not_found("Webhook")
    return webhook


async def list_owned(
    db: AsyncSession, user: User, session_id: uuid.UUID | None = None
) -> list[Webhook]:
    return await WebhookRepository(db).list_for(user.id, session_id)


async def update(
    db: AsyncSession,
    user: User,
    webhook_id: uuid.UUID,
    *,
    url: str | None,
    events: Sequence[str] | None,
    is_active: bool | None,
    send_secret_header: bool | None,
    reach: Reach,
    ip_address: str | None = None,
) -> Webhook:
    """Change an endpoint. Enabling it again resets its failure count and makes
    the deliveries it still owes due at once."""
    webhook = await get_owned(db, user, webhook_id)
    if events is not None:
        webhook.events = _events(events, user_level=webhook.session_id is None)
    if url is not None:
        webhook.url = await _checked_url(url, reach=reach)
    if send_secret_header is not None:
        webhook.send_secret_header = send_secret_header
    if is_active is True and not webhook.is_active:
        # Refused by the policy before? Say so now, not with another refused delivery.
        await _checked_url(webhook.url, reach=reach)
        webhook.is_active = True
        webhook.disabled_reason = None
        webhook.failed_attempts = 0
        webhook.failing_since = None
        webhook.hold_until = None
        await DeliveryRepository(db).hurry_pending(webhook.id, utcnow())
        deliveries_due_on_commit(db)
    elif is_active is False:
        webhook.is_active = False
        webhook.disabled_reason = "by_user"
    await db.flush()
    await _audit(db, webhook, "webhook.update", ip_address)
    return webhook


async def delete(
    db: AsyncSession, user: User, webhook_id: uuid.UUID, ip_address: str | None = None
) -> None:
    """Delete an endpoint and what it was still owed."""
    webhook = await get_owned(db, user, webhook_id)
    await _audit(db, webhook, "webhook.delete", ip_address)
    await WebhookRepository(db).delete(webhook)


async def _audit(db: AsyncSession, webhook: Webhook, action: str, ip_address: str | None) -> None:
    # The URL may carry a token of the receiver's; the host is enough to recognise it.
    await record_activity(
        db,
        user_id=webhook.user_id,
        action=action,
        metadata={
            "webhookId": str(webhook.id),
            "sessionId": str(webhook.session_id) if webhook.session_id else None,
            "host": urlsplit(webhook.url).hostname,
            "events": list(webhook.events),
            "isActive": webhook.is_active,
        },
        ip_address=ip_address,
    )


async def rotate_secret(
    db: AsyncSession, user: User, webhook_id: uuid.UUID, *, instance_secret: str
) -> WebhookWithSecret:
    """A new secret, in force from the next attempt; the old one stops at once."""
    webhook = await get_owned(db, user, webhook_id)
    secret = generate_secret()
    webhook.secret_encrypted = encrypt_secret(secret, instance_secret)
    await db.flush()
    return WebhookWithSecret(webhook, secret)


async def send_test(db: AsyncSession, user: User, webhook_id: uuid.UUID) -> OutboxEvent:
    """A ``webhook.test`` event, addressed to this webhook only, delivered like
    any other event (outbox, relay, signing, retries)."""
    webhook = await get_owned(db, user, webhook_id)
    if not webhook.is_active:
        raise AppError(ErrorCode.CONFLICT, "The webhook is disabled; enable it to test it")
    return await record_event(
        db,
        user_id=webhook.user_id,
        session_id=webhook.session_id,
        event_type=catalog.TEST_EVENT,
        data={"webhookId": str(webhook.id), "message": "This is a test event from wagate"},
    )


async def deliveries(
    db: AsyncSession, user: User, webhook_id: uuid.UUID, *, status: str | None, limit: int
) -> list[DeliveryHistory]:
    """The newest deliveries first, each with every attempt made for it."""
    webhook = await get_owned(db, user, webhook_id)
    repository = DeliveryRepository(db)
    rows = await repository.list_for(webhook, status=status, limit=limit)
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {row.id: [] for row in rows}
    if rows:
        for attempt in await repository.attempts_of(list(attempts)):
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryHistory(row, attempts[row.id]) for row in rows]


async def retry(
    db: AsyncSession,
    user: User,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    """Send a delivery again now, whatever became of it: it is the webhook's
    next request (after any one in flight), even if the webhook was holding."""
    webhook = await get_owned(db, user, webhook_id)
    delivery = await DeliveryRepository(db).get_for(webhook, delivery_id)
    if delivery is None:
        raise not_found("Delivery")
    if delivery.status == DeliveryStatus.DELIVERING:
        raise AppError(ErrorCode.CONFLICT, "This delivery is being attempted right now")
    delivery.status = DeliveryStatus.PENDING
    # Due since it was created, not from "now": a claim that read the clock just
    # before this commit still finds it due, so it goes before the events after it.
    delivery.next_attempt_at = min(delivery.created_at, utcnow())
    webhook.hold_until = None
    delivery.finished_at = None
    await db.flush()
    deliveries_due_on_commit(db)
    return delivery
