"""Broadcasts (docs/broadcasts.md), as the broadcaster seed lists its pages:
contacts (table, tags, a CSV import with a progress bar), templates (an editor
with a live preview), campaigns (a wizard; live progress, counts, and the
delivery and read rates as a chart) and broadcast (a draft sent through the
accounts chosen for it). The accounts grid is ``accounts_pages`` (/whatsapp).
Each handler makes one service call of the broadcast domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from wagate.campaigns import contacts, service, templates, views
from wagate.campaigns.router import get_runner
from wagate.campaigns.runner import CampaignRunner
from wagate.dashboard.web import (
    PageRoute,
    PageUser,
    check_csrf,
    redirect,
    render,
    wants_json,
)
from wagate.deps import DbSession, SettingsDep, parse_id
from wagate.errors import AppError, ErrorCode
from wagate.messages.media import MediaStore
from wagate.net.fetch import GuardedClients
from wagate.storage.db import Database

PREFIX = "/dashboard/broadcasts"
IMPORT_PATH = f"{PREFIX}/contacts/import"
CAMPAIGNS_PATH = f"{PREFIX}/campaigns"
CONTACTS_PER_PAGE = 50
_CHUNK = 64 * 1024
# A campaign's progress is polled while it may still move.
LIVE_STATES = ("scheduled", "running", "paused")

router = APIRouter(
    prefix=PREFIX,
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)

Runner = Annotated[CampaignRunner, Depends(get_runner)]
Name = Annotated[str, Form(min_length=1, max_length=200)]
Body = Annotated[str, Form(min_length=1, max_length=4096)]


def _page(tab: str, title: str, **values: Any) -> dict[str, Any]:
    return {"title": title, "nav": "broadcasts", "tab": tab, "live_states": LIVE_STATES, **values}


def _tools(request: Request, settings: Any, runner: CampaignRunner) -> views.StartTools:
    media_store: MediaStore = request.app.state.media_store
    http_clients: GuardedClients = request.app.state.http_clients
    return views.StartTools(media_store, http_clients, settings, runner.wake)


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(_CHUNK):
        yield chunk


# -- campaigns -------------------------------------------------------------


@router.get("")
async def campaigns_page(request: Request, db: DbSession, user: PageUser) -> Response:
    rows = await views.campaigns_page(db, user)
    return render(request, "broadcasts.html", _page("campaigns", "Campaigns", campaigns=rows))


@router.get("/campaigns")
async def campaigns_partial(
    request: Request, db: DbSession, user: PageUser, active: bool = False
) -> Response:
    """The campaign list alone (``active``: only those still sending), fetched
    again by the page while one is running."""
    rows = await views.campaigns_page(db, user)
    if active:
        rows = [row for row in rows if row.campaign.state in LIVE_STATES]
    context = _page("campaigns", "Campaigns", campaigns=rows, only_active=active)
    return render(request, "_campaigns.html", context)


@router.get("/campaigns/new")
async def wizard_page(request: Request, db: DbSession, user: PageUser) -> Response:
    view = await views.wizard(db, user)
    return render(request, "campaign_wizard.html", _page("campaigns", "New campaign", view=view))


def _scheduled_at(value: str, zone_name: str) -> datetime | None:
    """A ``datetime-local`` value, read in the campaign's time zone."""
    if not value.strip():
        return None
    try:
        zone = ZoneInfo(zone_name)
        local = datetime.fromisoformat(value.strip())
    except (ValueError, ZoneInfoNotFoundError):
        raise AppError(ErrorCode.VALIDATION_ERROR, "schedule: not a date and time") from None
    return local.replace(tzinfo=zone) if local.tzinfo is None else local


@router.post("/campaigns")
async def create_campaign(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    runner: Runner,
    name: Name,
    template_id: Annotated[str, Form(max_length=64)],
    session_ids: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006
    contact_ids: Annotated[list[str], Form(max_length=1000)] = [],  # noqa: B006
    tags: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006
    extra_tags: Annotated[str, Form(max_length=500)] = "",
    file: Annotated[UploadFile | None, File()] = None,
    rate_per_minute: Annotated[int, Form(ge=0, le=6000)] = 20,
    jitter_seconds: Annotated[float, Form(ge=0, le=3600)] = 3,
    typing_ms: Annotated[int, Form(ge=0, le=20_000)] = 0,
    daily_cap: Annotated[str, Form(max_length=9)] = "",
    quiet_start: Annotated[str, Form(max_length=5)] = "",
    quiet_end: Annotated[str, Form(max_length=5)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "UTC",
    check_numbers: Annotated[bool, Form()] = False,
    when: Annotated[str, Form(pattern="^(now|later|draft)$")] = "now",
    scheduled_at: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The wizard's last step: create the campaign and start it now, at its
    time, or keep it as a draft for the broadcast page."""
    form = await request.form()
    weights = [_weight(form.get(f"weight-{ref}")) for ref in session_ids]
    if not session_ids:
        raise AppError(ErrorCode.VALIDATION_ERROR, "accounts: choose at least one account")
    if when == "later" and not scheduled_at.strip():
        raise AppError(ErrorCode.VALIDATION_ERROR, "schedule: choose when it starts")
    cap = daily_cap.strip()
    if cap and not cap.isdigit():
        raise AppError(ErrorCode.VALIDATION_ERROR, "dailyCap: a whole number")
    launched = await views.launch(
        db,
        user,
        name=name,
        template_id=parse_id(template_id, "Template"),
        session_refs=session_ids,
        weights=weights if any(w != 1 for w in weights) else [],
        contact_ids=[parse_id(raw, "Contact") for raw in contact_ids],
        tags=[*tags, *contacts.split_tags(extra_tags)],
        csv=_chunks(file) if file is not None and file.filename else None,
        delivery=service.Delivery(
            rate_per_minute=rate_per_minute,
            jitter_seconds=jitter_seconds,
            typing_ms=typing_ms,
            daily_cap=int(cap) if cap else None,
            quiet_start=quiet_start or None,
            quiet_end=quiet_end or None,
            time_zone=time_zone or "UTC",
            check_numbers=check_numbers,
            scheduled_at=_scheduled_at(scheduled_at, time_zone) if when == "later" else None,
        ),
        start=when != "draft",
        tools=_tools(request, settings, runner),
    )
    campaign = launched.campaign
    note = f"Campaign {campaign.name}: {campaign.state}"
    if launched.report is not None:
        report = launched.report
        note += (
            f" (CSV: imported {report.imported}, updated {report.updated},"
            f" rejected {report.rejected_count})"
        )
    if when == "draft":
        return redirect(request, f"{PREFIX}/broadcast", note)
    return redirect(request, f"{CAMPAIGNS_PATH}/{campaign.id}", note)


def _weight(value: Any) -> int:
    if not isinstance(value, str) or not value.strip():
        return 1
    if not value.strip().isdigit() or not 1 <= int(value) <= 100:
        raise AppError(ErrorCode.VALIDATION_ERROR, "weight: a whole number from 1 to 100")
    return int(value)


def _progress_json(detail: views.CampaignDetail) -> dict[str, Any]:
    p, row = detail.progress, detail.row
    return {
        "state": detail.campaign.state,
        "total": p.total,
        "pending": p.pending,
        "queued": p.queued,
        "sent": p.sent,
        "delivered": p.delivered,
        "read": p.read,
        "failed": p.failed,
        "skipped": p.skipped,
        "replied": p.replied,
        "done": row.done,
        "percent": row.percent,
        "deliveryRate": p.delivery_rate,
        "readRate": p.read_rate,
        "timeline": [
            {
                "at": point.at.isoformat(),
                "sent": point.sent,
                "delivered": point.delivered,
                "read": point.read,
                "failed": point.failed,
                "deliveryRate": point.delivery_rate,
                "readRate": point.read_rate,
            }
            for point in detail.timeline
        ],
    }


@router.get("/campaigns/{campaign_id}")
async def campaign_page(
    request: Request, db: DbSession, user: PageUser, campaign_id: str
) -> Response:
    detail = await views.campaign_detail(db, user, parse_id(campaign_id, "Campaign"))
    context = _page("campaigns", detail.campaign.name, detail=detail, row=detail.row)
    return render(request, "campaign.html", context)


@router.get("/campaigns/{campaign_id}/progress")
async def campaign_progress(db: DbSession, user: PageUser, campaign_id: str) -> JSONResponse:
    """Counts, rates and the rates over time: polled once a second by the page."""
    detail = await views.campaign_detail(db, user, parse_id(campaign_id, "Campaign"))
    response = JSONResponse(_progress_json(detail))
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/campaigns/{campaign_id}/results.csv")
async def campaign_results(
    request: Request, db: DbSession, user: PageUser, campaign_id: str
) -> StreamingResponse:
    database: Database = request.app.state.database
    found = parse_id(campaign_id, "Campaign")
    rows = await service.results_csv(db, database, user, found)
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="campaign-{found}.csv"'},
    )


@router.post("/campaigns/{campaign_id}/{action}")
async def move_campaign(
    request: Request,
    db: DbSession,
    user: PageUser,
    runner: Runner,
    campaign_id: str,
    action: str,
) -> Response:
    if action not in ("pause", "resume", "cancel"):
        raise AppError(ErrorCode.NOT_FOUND, "No such action")
    moved = await service.move(
        db, user, parse_id(campaign_id, "Campaign"), action, wake=runner.wake
    )
    return redirect(
        request, f"{CAMPAIGNS_PATH}/{moved.id}", f"Campaign {moved.name}: {moved.state}"
    )


# -- broadcast: a draft sent through the accounts chosen now ---------------


@router.get("/broadcast")
async def broadcast_page(request: Request, db: DbSession, user: PageUser) -> Response:
    view = await views.broadcast_page(db, user)
    return render(request, "broadcast.html", _page("broadcast", "Broadcast", view=view))


@router.post("/broadcast/{campaign_id}")
async def send_draft(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    runner: Runner,
    campaign_id: str,
    session_ids: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006
) -> Response:
    campaign = await views.send_draft(
        db,
        user,
        parse_id(campaign_id, "Campaign"),
        session_ids,
        _tools(request, settings, runner),
    )
    return redirect(
        request, f"{CAMPAIGNS_PATH}/{campaign.id}", f"Campaign {campaign.name}: {campaign.state}"
    )


# -- contacts --------------------------------------------------------------


@router.get("/contacts")
async def contacts_page(
    request: Request,
    db: DbSession,
    user: PageUser,
    tag: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    view = await views.contacts_page(
        db,
        user,
        tag=tag or None,
        search=q or None,
        limit=CONTACTS_PER_PAGE,
        offset=(page - 1) * CONTACTS_PER_PAGE,
    )
    pages = max(1, -(-view.total // CONTACTS_PER_PAGE))
    context = _page("contacts", "Contacts", view=view, tag=tag, q=q, page=page, pages=pages)
    return render(request, "contacts.html", context)


@router.post("/contacts/import")
async def import_contacts(
    request: Request, db: DbSession, user: PageUser, settings: SettingsDep, file: UploadFile
) -> Response:
    """The CSV upload; the page's script asks for the report as JSON and shows
    the upload's progress while it goes."""
    report = await contacts.import_csv(
        db, user, _chunks(file), region=settings.broadcast_default_region
    )
    if wants_json(request):
        return JSONResponse(
            {
                "imported": report.imported,
                "updated": report.updated,
                "rejectedCount": report.rejected_count,
                "rejected": [{"line": r.line, "reason": r.reason} for r in report.rejected],
            }
        )
    note = f"Imported {report.imported}, updated {report.updated}, rejected {report.rejected_count}"
    if report.rejected:
        first = report.rejected[0]
        note += f" (line {first.line}: {first.reason})"
    return redirect(request, f"{PREFIX}/contacts", note)


@router.post("/contacts")
async def add_contact(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    phone: Annotated[str, Form(min_length=1, max_length=40)],
    name: Annotated[str, Form(max_length=200)] = "",
    tags: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    contact = await contacts.create(
        db,
        user,
        phone=phone,
        region=settings.broadcast_default_region,
        name=name.strip() or None,
        tags=contacts.split_tags(tags),
    )
    return redirect(request, f"{PREFIX}/contacts", f"Contact +{contact.phone} added")


@router.get("/contacts/{contact_id}")
async def contact_page(
    request: Request, db: DbSession, user: PageUser, contact_id: str
) -> Response:
    contact = await contacts.get(db, user, parse_id(contact_id, "Contact"))
    return render(
        request, "contact.html", _page("contacts", contact.name or contact.phone, contact=contact)
    )


@router.post("/contacts/{contact_id}")
async def update_contact(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    contact_id: str,
    name: Annotated[str, Form(max_length=200)] = "",
    tags: Annotated[str, Form(max_length=500)] = "",
    opted_out: Annotated[bool, Form()] = False,
) -> Response:
    contact = await contacts.update_contact(
        db,
        user,
        parse_id(contact_id, "Contact"),
        {"name": name.strip() or None, "tags": contacts.split_tags(tags), "opted_out": opted_out},
        settings.broadcast_default_region,
    )
    return redirect(request, f"{PREFIX}/contacts", f"Contact +{contact.phone} saved")


@router.post("/contacts/{contact_id}/delete")
async def delete_contact(
    request: Request, db: DbSession, user: PageUser, contact_id: str
) -> Response:
    await contacts.delete(db, user, parse_id(contact_id, "Contact"))
    return redirect(request, f"{PREFIX}/contacts", "Contact deleted")


# -- templates -------------------------------------------------------------


@router.get("/templates")
async def templates_page(request: Request, db: DbSession, user: PageUser) -> Response:
    view = await views.templates_page(db, user)
    return render(request, "templates.html", _page("templates", "Templates", view=view))


@router.post("/templates/preview")
async def preview_template(
    db: DbSession,
    user: PageUser,
    body: Annotated[str, Form(max_length=4096)] = "",
    contact_id: Annotated[str, Form(max_length=64)] = "",
) -> JSONResponse:
    """The editor's live preview: the text as a contact (the first one when
    none is named) would get it; a missing variable is the error it names."""
    if not body.strip():
        return JSONResponse({"text": ""})
    text = await templates.preview(
        db,
        user,
        body=body,
        contact_id=parse_id(contact_id, "Contact") if contact_id else None,
        first_contact=not contact_id,
    )
    return JSONResponse({"text": text})


@router.post("/templates")
async def create_template(
    request: Request, db: DbSession, user: PageUser, name: Name, body: Body
) -> Response:
    template = await views.save_template(db, user, None, name=name, body=body)
    return redirect(request, f"{PREFIX}/templates", f"Template {template.name} saved")


@router.get("/templates/{template_id}")
async def template_page(
    request: Request, db: DbSession, user: PageUser, template_id: str
) -> Response:
    view = await views.templates_page(db, user, parse_id(template_id, "Template"))
    return render(request, "templates.html", _page("templates", "Templates", view=view))


@router.post("/templates/{template_id}")
async def update_template(
    request: Request, db: DbSession, user: PageUser, template_id: str, name: Name, body: Body
) -> Response:
    template = await views.save_template(
        db, user, parse_id(template_id, "Template"), name=name, body=body
    )
    return redirect(request, f"{PREFIX}/templates/{template.id}", f"Template {template.name} saved")


@router.post("/templates/{template_id}/delete")
async def delete_template(
    request: Request, db: DbSession, user: PageUser, template_id: str
) -> Response:
    await templates.delete(db, user, parse_id(template_id, "Template"))
    return redirect(request, f"{PREFIX}/templates", "Template deleted")
