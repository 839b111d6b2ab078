"""Webhooks: register an endpoint (its secret shown once), choose its events,
turn it on and off, send a test, and read the delivery log with a retry button."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from wagate.auth.models import User
from wagate.dashboard.web import PageRoute, PageUser, check_csrf, not_found_page, redirect, render
from wagate.deps import DbSession, SettingsDep, parse_id
from wagate.errors import AppError
from wagate.net.policy import url_reach
from wagate.sessions import service as sessions_service
from wagate.webhooks import catalog
from wagate.webhooks import service as webhooks_service
from wagate.webhooks.models import Webhook
from wagate.webhooks.schemas import URL_MAX_LENGTH

router = APIRouter(
    prefix="/dashboard/webhooks",
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)

DELIVERY_LIMIT = 50
EVENT_CHOICES = [
    (catalog.ALL_EVENTS, "Every event"),
    ("message.received", "Message received"),
    ("message.status", "Message status (sent, delivered, read, failed)"),
    ("session.status", "Session status"),
    ("session.connected", "Session connected"),
    ("session.disconnected", "Session disconnected"),
    ("session.qr", "New QR code"),
    ("session.pairing_code", "Pairing code"),
    ("webhook.disabled", "A webhook was disabled"),
]

Url = Annotated[str, Form(min_length=1, max_length=URL_MAX_LENGTH)]
Events = Annotated[list[str], Form(min_length=1, max_length=32)]


async def owned_webhook(db: DbSession, user: PageUser, webhook_id: str) -> Webhook:
    try:
        return await webhooks_service.get_owned(db, user, parse_id(webhook_id, "Webhook"))
    except AppError as exc:
        raise not_found_page() from exc


OwnedWebhook = Annotated[Webhook, Depends(owned_webhook)]


async def _list(
    request: Request, db: DbSession, user: User, extra: dict[str, Any] | None = None
) -> Response:
    sessions = await sessions_service.list_owned(db, user)
    context = {
        "title": "Webhooks",
        "nav": "webhooks",
        "webhooks": await webhooks_service.list_owned(db, user),
        "sessions": sessions,
        "session_names": {s.id: s.name for s in sessions},
        "event_choices": EVENT_CHOICES,
        **(extra or {}),
    }
    return render(request, "webhooks.html", context)


@router.get("")
async def webhooks_page(request: Request, db: DbSession, user: PageUser) -> Response:
    return await _list(request, db, user)


@router.post("")
async def create_webhook(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    session_id: Annotated[str, Form(max_length=64)],
    url: Url,
    events: Events,
    send_secret_header: Annotated[bool, Form()] = False,
) -> Response:
    created = await webhooks_service.create(
        db,
        user,
        session_id=parse_id(session_id, "Session"),
        url=url.strip(),
        events=events,
        send_secret_header=send_secret_header,
        instance_secret=settings.resolved_secret_key,
        reach=url_reach(settings, is_admin=user.is_admin),
    )
    revealed = {
        "title": "Webhook created",
        "lead": "Its signing secret is shown only this once: copy it now to verify deliveries.",
        "key": created.secret,
    }
    return await _list(request, db, user, {"revealed": revealed, "created_id": created.webhook.id})


async def _detail(
    request: Request,
    db: DbSession,
    user: User,
    webhook: Webhook,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    session = (
        await sessions_service.get_owned(db, user, webhook.session_id)
        if webhook.session_id is not None
        else None  # a user-level webhook (created through the API)
    )
    deliveries = await webhooks_service.deliveries(
        db, user, webhook.id, status=None, limit=DELIVERY_LIMIT
    )
    return {
        "title": "Webhook",
        "nav": "webhooks",
        "webhook": webhook,
        "session": session,
        "deliveries": deliveries,
        "event_choices": EVENT_CHOICES,
        **(extra or {}),
    }


@router.get("/{webhook_id}")
async def webhook_page(
    request: Request, db: DbSession, user: PageUser, webhook: OwnedWebhook
) -> Response:
    return render(request, "webhook_detail.html", await _detail(request, db, user, webhook))


@router.get("/{webhook_id}/deliveries")
async def deliveries_partial(
    request: Request, db: DbSession, user: PageUser, webhook: OwnedWebhook
) -> Response:
    """The delivery log alone, re-fetched by the page while deliveries are pending."""
    return render(request, "_deliveries.html", await _detail(request, db, user, webhook))


@router.post("/{webhook_id}/edit")
async def edit_webhook(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    webhook: OwnedWebhook,
    url: Url,
    events: Events,
    send_secret_header: Annotated[bool, Form()] = False,
) -> Response:
    await webhooks_service.update(
        db,
        user,
        webhook.id,
        url=url.strip(),
        events=events,
        is_active=None,
        send_secret_header=send_secret_header,
        reach=url_reach(settings, is_admin=user.is_admin),
    )
    return redirect(request, f"/dashboard/webhooks/{webhook.id}", "Webhook saved")


@router.post("/{webhook_id}/active")
async def set_active(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    webhook: OwnedWebhook,
    active: Annotated[bool, Form()],
) -> Response:
    await webhooks_service.update(
        db,
        user,
        webhook.id,
        url=None,
        events=None,
        is_active=active,
        send_secret_header=None,
        reach=url_reach(settings, is_admin=user.is_admin),
    )
    done = "Webhook enabled" if active else "Webhook disabled"
    return redirect(request, f"/dashboard/webhooks/{webhook.id}", done)


@router.post("/{webhook_id}/test")
async def test_webhook(
    request: Request, db: DbSession, user: PageUser, webhook: OwnedWebhook
) -> Response:
    await webhooks_service.send_test(db, user, webhook.id)
    return redirect(
        request, f"/dashboard/webhooks/{webhook.id}", "Test event sent: its delivery shows below"
    )


@router.post("/{webhook_id}/rotate-secret")
async def rotate_secret(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    webhook: OwnedWebhook,
) -> Response:
    rotated = await webhooks_service.rotate_secret(
        db, user, webhook.id, instance_secret=settings.resolved_secret_key
    )
    revealed = {
        "title": "New signing secret",
        "lead": "Shown only this once; deliveries are signed with it from now on.",
        "key": rotated.secret,
    }
    context = await _detail(request, db, user, webhook, {"revealed": revealed})
    return render(request, "webhook_detail.html", context)


@router.post("/{webhook_id}/delete")
async def delete_webhook(
    request: Request, db: DbSession, user: PageUser, webhook: OwnedWebhook
) -> Response:
    await webhooks_service.delete(db, user, webhook.id)
    return redirect(request, "/dashboard/webhooks", "Webhook deleted")


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry")
async def retry_delivery(
    request: Request,
    db: DbSession,
    user: PageUser,
    webhook: OwnedWebhook,
    delivery_id: str,
) -> Response:
    await webhooks_service.retry(db, user, webhook.id, parse_id(delivery_id, "Delivery"))
    return redirect(request, f"/dashboard/webhooks/{webhook.id}", "Delivery queued again")
