"""Broadcasts (docs/broadcasts.md): contacts with a CSV import, templates with a
preview, and campaigns with their live progress, delivery and read rates. Each
form makes one service call of the broadcast domain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from wagate.auth.models import User
from wagate.campaigns import contacts, service, templates
from wagate.campaigns.router import get_runner
from wagate.campaigns.runner import CampaignRunner
from wagate.dashboard.web import PageRoute, PageUser, check_csrf, redirect, render
from wagate.deps import DbSession, SettingsDep, parse_id
from wagate.errors import AppError, ErrorCode
from wagate.messages.media import MediaStore
from wagate.net.fetch import GuardedClients
from wagate.sessions import service as sessions_service

PREFIX = "/dashboard/broadcasts"
IMPORT_PATH = f"{PREFIX}/contacts/import"
_CHUNK = 64 * 1024

router = APIRouter(
    prefix=PREFIX,
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)

Runner = Annotated[CampaignRunner, Depends(get_runner)]
Name = Annotated[str, Form(min_length=1, max_length=200)]


async def _context(db: DbSession, user: User) -> dict[str, Any]:
    campaigns = [(c, await service.progress(db, c)) for c in await service.list_owned(db, user)]
    found, total = await contacts.page(db, user, limit=20)
    return {
        "title": "Broadcasts",
        "nav": "broadcasts",
        "campaigns": list(reversed(campaigns)),
        "contacts": found,
        "contact_total": total,
        "templates": await templates.list_owned(db, user),
        "sessions": await sessions_service.list_owned(db, user),
    }


@router.get("")
async def broadcasts_page(request: Request, db: DbSession, user: PageUser) -> Response:
    return render(request, "broadcasts.html", await _context(db, user))


@router.get("/campaigns")
async def campaigns_partial(request: Request, db: DbSession, user: PageUser) -> Response:
    """The campaigns card alone, re-fetched by the page while one is running."""
    return render(request, "_campaigns.html", await _context(db, user))


@router.post("/contacts/import")
async def import_contacts(
    request: Request, db: DbSession, user: PageUser, settings: SettingsDep, file: UploadFile
) -> Response:
    async def chunks() -> Any:
        while chunk := await file.read(_CHUNK):
            yield chunk

    report = await contacts.import_csv(db, user, chunks(), region=settings.broadcast_default_region)
    note = f"Imported {report.imported}, updated {report.updated}, rejected {report.rejected_count}"
    if report.rejected:
        first = report.rejected[0]
        note += f" (line {first.line}: {first.reason})"
    return redirect(request, PREFIX, note)


@router.post("/templates")
async def create_template(
    request: Request,
    db: DbSession,
    user: PageUser,
    name: Name,
    body: Annotated[str, Form(min_length=1, max_length=4096)],
) -> Response:
    await templates.create(db, user, name=name, body=body)
    return redirect(request, PREFIX, f"Template {name} saved")


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


@router.post("/campaigns")
async def create_campaign(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    campaigns: Runner,
    name: Name,
    template_id: Annotated[str, Form(max_length=64)],
    session_ids: Annotated[list[str], Form(min_length=1, max_length=50)],
    tags: Annotated[str, Form(max_length=500)] = "",
    rate_per_minute: Annotated[int, Form(ge=0, le=6000)] = 20,
) -> Response:
    """A campaign to the contacts with any of ``tags`` (all contacts when empty), started now."""
    tag_list = contacts.split_tags(tags) if tags.strip() else []
    if not tag_list:
        raise AppError(ErrorCode.VALIDATION_ERROR, "tags: name at least one tag of the audience")
    campaign = await service.create(
        db,
        user,
        name=name,
        template_id=parse_id(template_id, "Template"),
        session_refs=session_ids,
        tags=tag_list,
        delivery=service.Delivery(
            rate_per_minute=rate_per_minute, jitter_seconds=settings.campaign_jitter_seconds
        ),
    )
    media_store: MediaStore = request.app.state.media_store
    http_clients: GuardedClients = request.app.state.http_clients
    await service.start(
        db,
        user,
        campaign.id,
        media_store=media_store,
        http_clients=http_clients,
        settings=settings,
        wake=campaigns.wake,
    )
    return redirect(request, PREFIX, f"Campaign {name} started")


@router.post("/campaigns/{campaign_id}/{action}")
async def move_campaign(
    request: Request,
    db: DbSession,
    user: PageUser,
    campaigns: Runner,
    campaign_id: str,
    action: str,
) -> Response:
    if action not in ("pause", "resume", "cancel"):
        raise AppError(ErrorCode.NOT_FOUND, "No such action")
    moved = await service.move(
        db, user, parse_id(campaign_id, "Campaign"), action, wake=campaigns.wake
    )
    return redirect(request, PREFIX, f"Campaign {moved.name}: {moved.state}")
