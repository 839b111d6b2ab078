from __future__ import annotations

from fastapi import APIRouter, Query

from wagate.deps import ClientAddress, DbSession, SettingsDep, parse_id
from wagate.deps import UserByTokenOrKey as CurrentUser
from wagate.net.policy import url_reach
from wagate.schemas import API_PREFIX, Envelope, MessageEnvelope, ok
from wagate.webhooks import service
from wagate.webhooks.models import DeliveryStatus, Webhook
from wagate.webhooks.schemas import (
    AttemptItem,
    CreatedWebhookData,
    CreateWebhookRequest,
    DeliveryItem,
    DeliveryList,
    RotatedSecretData,
    TestEventData,
    UpdateWebhookRequest,
    WebhookItem,
    WebhookList,
)

router = APIRouter(prefix=f"{API_PREFIX}/webhooks", tags=["webhooks"])


def _item(webhook: Webhook) -> WebhookItem:
    return WebhookItem(
        id=str(webhook.id),
        session_id=str(webhook.session_id) if webhook.session_id else None,
        url=webhook.url,
        events=webhook.events,
        is_active=webhook.is_active,
        failed_attempts=webhook.failed_attempts,
        created_at=webhook.created_at,
        send_secret_header=webhook.send_secret_header,
        last_success_at=webhook.last_success_at,
        hold_until=webhook.hold_until,
        disabled_reason=webhook.disabled_reason,
        format=webhook.format,
    )


def _delivery(history: service.DeliveryHistory) -> DeliveryItem:
    delivery = history.delivery
    return DeliveryItem(
        deliveryId=str(delivery.id),
        eventId=str(delivery.event_id),
        sequence=delivery.event_seq,
        eventType=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        lastStatusCode=delivery.last_status_code,
        lastError=delivery.last_error,
        nextAttemptAt=delivery.next_attempt_at,
        createdAt=delivery.created_at,
        finishedAt=delivery.finished_at,
        history=[
            AttemptItem(
                attempt=a.attempt,
                statusCode=a.status_code,
                durationMs=a.duration_ms,
                error=a.error,
                attemptedAt=a.attempted_at,
                nextRetryAt=a.next_retry_at,
            )
            for a in history.attempts
        ],
    )


@router.post("", status_code=201)
async def create_webhook(
    body: CreateWebhookRequest,
    db: DbSession,
    user: CurrentUser,
    settings: SettingsDep,
    ip: ClientAddress,
) -> Envelope[CreatedWebhookData]:
    created = await service.create(
        db,
        user,
        session_id=parse_id(body.sessionId, "Session") if body.sessionId else None,
        url=body.url,
        events=body.events,
        send_secret_header=body.sendSecretHeader,
        instance_secret=settings.resolved_secret_key,
        reach=url_reach(settings, is_admin=user.is_admin),
        format=body.format,
        ip_address=ip,
    )
    webhook = created.webhook
    return ok(
        CreatedWebhookData(
            webhookId=str(webhook.id),
            url=webhook.url,
            secret=created.secret,
            events=webhook.events,
            sendSecretHeader=webhook.send_secret_header,
            format=webhook.format,
        )
    )


@router.get("")
async def list_webhooks(
    db: DbSession, user: CurrentUser, sessionId: str | None = Query(default=None)
) -> Envelope[WebhookList]:
    session_id = parse_id(sessionId, "Session") if sessionId else None
    webhooks = await service.list_owned(db, user, session_id)
    return ok(WebhookList(webhooks=[_item(w) for w in webhooks]))


@router.put("/{webhook_id}")
async def update_webhook(
    webhook_id: str,
    body: UpdateWebhookRequest,
    db: DbSession,
    user: CurrentUser,
    settings: SettingsDep,
    ip: ClientAddress,
) -> MessageEnvelope:
    await service.update(
        db,
        user,
        parse_id(webhook_id, "Webhook"),
        url=body.url,
        events=body.events,
        is_active=body.isActive,
        send_secret_header=body.sendSecretHeader,
        reach=url_reach(settings, is_admin=user.is_admin),
        ip_address=ip,
    )
    return MessageEnvelope(message="Webhook updated successfully")


@router.delete("/{webhook_id}")
async def delete_webhook(
    webhook_id: str, db: DbSession, user: CurrentUser, ip: ClientAddress
) -> MessageEnvelope:
    await service.delete(db, user, parse_id(webhook_id, "Webhook"), ip_address=ip)
    return MessageEnvelope(message="Webhook deleted successfully")


@router.post("/{webhook_id}/test")
async def test_webhook(
    webhook_id: str, db: DbSession, user: CurrentUser
) -> Envelope[TestEventData]:
    event = await service.send_test(db, user, parse_id(webhook_id, "Webhook"))
    return ok(
        TestEventData(
            eventId=str(event.id),
            event=event.type,
            message="Test event queued; see its delivery under /deliveries",
        )
    )


@router.post("/{webhook_id}/rotate-secret")
async def rotate_secret(
    webhook_id: str, db: DbSession, user: CurrentUser, settings: SettingsDep
) -> Envelope[RotatedSecretData]:
    rotated = await service.rotate_secret(
        db, user, parse_id(webhook_id, "Webhook"), instance_secret=settings.resolved_secret_key
    )
    return ok(
        RotatedSecretData(
            webhookId=str(rotated.webhook.id),
            secret=rotated.secret,
            message="New secret issued; deliveries are signed with it from now on",
        )
    )


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: str,
    db: DbSession,
    user: CurrentUser,
    status: DeliveryStatus | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=500),
) -> Envelope[DeliveryList]:
    histories = await service.deliveries(
        db, user, parse_id(webhook_id, "Webhook"), status=status, limit=limit
    )
    return ok(DeliveryList(deliveries=[_delivery(h) for h in histories]))


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry")
async def retry_delivery(
    webhook_id: str, delivery_id: str, db: DbSession, user: CurrentUser
) -> MessageEnvelope:
    await service.retry(
        db, user, parse_id(webhook_id, "Webhook"), parse_id(delivery_id, "Delivery")
    )
    return MessageEnvelope(message="Delivery queued for another attempt")
