"""The broadcast API under ``/api/v1/broadcast`` (JWT or user API key): each
route validates, makes one service call and shapes the answer. Contacts live
here, not under the session-scoped ``/api/v1/contacts``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from wagate.campaigns import contacts, rendering, runner, service, templates
from wagate.campaigns.models import BroadcastContact, Campaign, MessageTemplate
from wagate.campaigns.schemas import (
    CampaignItem,
    CampaignList,
    CampaignStats,
    ContactItem,
    ContactList,
    CreateCampaignRequest,
    CreateContactRequest,
    CreateTemplateRequest,
    ImportReportData,
    PreviewData,
    PreviewRequest,
    RecipientItem,
    RecipientList,
    RejectedRow,
    TemplateItem,
    UpdateContactRequest,
    UpdateTemplateRequest,
)
from wagate.config import Settings
from wagate.deps import DbSession, SettingsDep, UserByTokenOrKey, parse_id
from wagate.errors import AppError, ErrorCode
from wagate.jid import number_of
from wagate.messages.media import MediaStore
from wagate.net.fetch import GuardedClients
from wagate.schemas import API_PREFIX, Envelope, MessageEnvelope, ok
from wagate.storage.db import Database

PREFIX = f"{API_PREFIX}/broadcast"
IMPORT_PATH = f"{PREFIX}/contacts/import"
# A fixed path (the campaign in the query), so the body limit is found by path.
AUDIENCE_PATH = f"{PREFIX}/campaigns/audience"
_CHUNK = 64 * 1024

router = APIRouter(prefix=PREFIX, tags=["broadcast"])


def upload_limits(settings: Settings) -> dict[str, int]:
    """The CSV import's own body limit (the default limit is for JSON bodies)."""
    limit = settings.broadcast_import_max_bytes
    return {IMPORT_PATH: limit, AUDIENCE_PATH: limit}


async def get_runner(request: Request) -> runner.CampaignRunner:
    found: runner.CampaignRunner = request.app.state.campaign_runner
    return found


Runner = Annotated[runner.CampaignRunner, Depends(get_runner)]


def _contact(contact: BroadcastContact) -> ContactItem:
    return ContactItem(
        id=str(contact.id),
        phone=f"+{contact.phone}",
        jid=contact.jid,
        name=contact.name,
        tags=list(contact.tags or []),
        fields=dict(contact.fields or {}),
        optedOut=contact.opted_out,
        optedOutAt=contact.opted_out_at,
        createdAt=contact.created_at,
        updatedAt=contact.updated_at,
    )


def _template(template: MessageTemplate) -> TemplateItem:
    return TemplateItem(
        id=str(template.id),
        name=template.name,
        body=template.body,
        variables=rendering.check(template.body),
        mediaUrl=template.media_url,
        mediaType=template.media_type,
        defaults=dict(template.defaults or {}),
        createdAt=template.created_at,
        updatedAt=template.updated_at,
    )


def _campaign(campaign: Campaign, progress: service.Progress) -> CampaignItem:
    return CampaignItem(
        id=str(campaign.id),
        name=campaign.name,
        templateId=str(campaign.template_id),
        sessionIds=list(campaign.session_ids),
        sessionWeights=dict(campaign.session_weights or {}),
        audience=dict(campaign.audience or {}),
        state=campaign.state,
        ratePerMinute=campaign.rate_per_minute,
        jitterSeconds=campaign.jitter_seconds,
        typingMs=campaign.typing_ms,
        dailyCap=campaign.daily_cap,
        quietStart=campaign.quiet_start,
        quietEnd=campaign.quiet_end,
        timeZone=campaign.time_zone,
        checkNumbers=campaign.check_numbers,
        scheduledAt=campaign.scheduled_at,
        createdAt=campaign.created_at,
        startedAt=campaign.started_at,
        finishedAt=campaign.finished_at,
        stats=CampaignStats(
            total=progress.total,
            pending=progress.pending,
            queued=progress.queued,
            sent=progress.sent,
            delivered=progress.delivered,
            read=progress.read,
            failed=progress.failed,
            skipped=progress.skipped,
            replied=progress.replied,
            deliveryRate=progress.delivery_rate,
            readRate=progress.read_rate,
        ),
    )


# -- contacts --------------------------------------------------------------


@router.get("/contacts")
async def list_contacts(
    db: DbSession,
    user: UserByTokenOrKey,
    tag: Annotated[list[str], Query()] = [],  # noqa: B006  (FastAPI reads, never mutates)
    search: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Envelope[ContactList]:
    found, total = await contacts.page(
        db, user, tags=tag, search=search, limit=limit, offset=offset
    )
    return ok(
        ContactList(contacts=[_contact(c) for c in found], total=total, limit=limit, offset=offset)
    )


@router.post("/contacts", status_code=201)
async def create_contact(
    body: CreateContactRequest, db: DbSession, user: UserByTokenOrKey, settings: SettingsDep
) -> Envelope[ContactItem]:
    contact = await contacts.create(
        db,
        user,
        phone=body.phone,
        region=settings.broadcast_default_region,
        name=body.name,
        tags=body.tags,
        fields=body.fields,
        opted_out=body.optedOut,
    )
    return ok(_contact(contact))


@router.post("/contacts/import")
async def import_contacts(
    request: Request,
    db: DbSession,
    user: UserByTokenOrKey,
    settings: SettingsDep,
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Envelope[ImportReportData]:
    """A CSV file as the raw body (``text/csv``) or a multipart ``file`` field."""
    report = await contacts.import_csv(
        db, user, _csv_chunks(request), region=settings.broadcast_default_region, extra_tags=tag
    )
    return ok(_report(report))


def _report(report: contacts.ImportReport) -> ImportReportData:
    return ImportReportData(
        imported=report.imported,
        updated=report.updated,
        rejectedCount=report.rejected_count,
        rejected=[RejectedRow(line=r.line, reason=r.reason) for r in report.rejected],
    )


async def _csv_chunks(request: Request) -> AsyncIterator[bytes]:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # Starlette spools a large upload to disk; it is read back a chunk at a time.
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise AppError(ErrorCode.VALIDATION_ERROR, "file: a CSV file is required")
        while chunk := await upload.read(_CHUNK):
            yield chunk
        return
    async for chunk in request.stream():
        yield chunk


@router.get("/contacts/export")
async def export_contacts(request: Request, user: UserByTokenOrKey) -> StreamingResponse:
    database: Database = request.app.state.database
    return _csv_response(contacts.export_csv(database, user.id), "contacts.csv")


def _csv_response(text: AsyncIterator[str], filename: str) -> StreamingResponse:
    return StreamingResponse(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/contacts/{contact_id}")
async def get_contact(
    contact_id: str, db: DbSession, user: UserByTokenOrKey
) -> Envelope[ContactItem]:
    return ok(_contact(await contacts.get(db, user, parse_id(contact_id, "Contact"))))


@router.patch("/contacts/{contact_id}")
async def update_contact(
    contact_id: str,
    body: UpdateContactRequest,
    db: DbSession,
    user: UserByTokenOrKey,
    settings: SettingsDep,
) -> Envelope[ContactItem]:
    sent = body.model_dump(exclude_unset=True)
    if "optedOut" in sent:
        sent["opted_out"] = sent.pop("optedOut")
    contact = await contacts.update_contact(
        db, user, parse_id(contact_id, "Contact"), sent, settings.broadcast_default_region
    )
    return ok(_contact(contact))


@router.delete("/contacts/{contact_id}")
async def delete_contact(contact_id: str, db: DbSession, user: UserByTokenOrKey) -> MessageEnvelope:
    await contacts.delete(db, user, parse_id(contact_id, "Contact"))
    return MessageEnvelope(message="Contact deleted")


# -- templates -------------------------------------------------------------


@router.get("/templates")
async def list_templates(db: DbSession, user: UserByTokenOrKey) -> Envelope[list[TemplateItem]]:
    return ok([_template(t) for t in await templates.list_owned(db, user)])


@router.post("/templates", status_code=201)
async def create_template(
    body: CreateTemplateRequest, db: DbSession, user: UserByTokenOrKey
) -> Envelope[TemplateItem]:
    template = await templates.create(
        db,
        user,
        name=body.name,
        body=body.body,
        media_url=body.mediaUrl,
        media_type=body.mediaType,
        defaults=body.defaults,
    )
    return ok(_template(template))


@router.post("/templates/preview")
async def preview_template(
    body: PreviewRequest, db: DbSession, user: UserByTokenOrKey
) -> Envelope[PreviewData]:
    text = await templates.preview(
        db,
        user,
        template_id=parse_id(body.templateId, "Template") if body.templateId else None,
        body=body.body,
        contact_id=parse_id(body.contactId, "Contact") if body.contactId else None,
        variables=body.variables,
    )
    return ok(PreviewData(text=text))


@router.get("/templates/{template_id}")
async def get_template(
    template_id: str, db: DbSession, user: UserByTokenOrKey
) -> Envelope[TemplateItem]:
    return ok(_template(await templates.get(db, user, parse_id(template_id, "Template"))))


_TEMPLATE_FIELDS = {
    "name": "name",
    "body": "body",
    "mediaUrl": "media_url",
    "mediaType": "media_type",
    "defaults": "defaults",
}


@router.patch("/templates/{template_id}")
async def update_template(
    template_id: str, body: UpdateTemplateRequest, db: DbSession, user: UserByTokenOrKey
) -> Envelope[TemplateItem]:
    values = {_TEMPLATE_FIELDS[k]: v for k, v in body.model_dump(exclude_unset=True).items()}
    template = await templates.update_template(db, user, parse_id(template_id, "Template"), values)
    return ok(_template(template))


@router.delete("/templates/{template_id}")
async def delete_template(
    template_id: str, db: DbSession, user: UserByTokenOrKey
) -> MessageEnvelope:
    await templates.delete(db, user, parse_id(template_id, "Template"))
    return MessageEnvelope(message="Template deleted")


# -- campaigns -------------------------------------------------------------


@router.get("/campaigns")
async def list_campaigns(db: DbSession, user: UserByTokenOrKey) -> Envelope[CampaignList]:
    found = await service.list_owned(db, user)
    return ok(CampaignList(campaigns=[_campaign(c, await service.progress(db, c)) for c in found]))


def _start_tools(request: Request) -> dict[str, Any]:
    media_store: MediaStore = request.app.state.media_store
    http_clients: GuardedClients = request.app.state.http_clients
    return {"media_store": media_store, "http_clients": http_clients}


@router.post("/campaigns", status_code=201)
async def create_campaign(
    body: CreateCampaignRequest,
    request: Request,
    db: DbSession,
    user: UserByTokenOrKey,
    settings: SettingsDep,
    campaigns: Runner,
) -> Envelope[CampaignItem]:
    """A draft; with ``"start": true`` it starts at once (or nothing is created)."""
    campaign = await service.create(
        db,
        user,
        name=body.name,
        template_id=parse_id(body.templateId, "Template"),
        session_refs=body.sessionIds,
        contact_ids=[parse_id(raw, "Contact") for raw in body.contactIds],
        tags=body.tags,
        weights=body.sessionWeights,
        delivery=service.Delivery(
            rate_per_minute=(
                settings.campaign_rate_per_minute
                if body.ratePerMinute is None
                else body.ratePerMinute
            ),
            jitter_seconds=(
                settings.campaign_jitter_seconds
                if body.jitterSeconds is None
                else body.jitterSeconds
            ),
            typing_ms=body.typingMs,
            daily_cap=body.dailyCap,
            quiet_start=body.quietStart,
            quiet_end=body.quietEnd,
            time_zone=body.timeZone,
            check_numbers=body.checkNumbers,
            scheduled_at=body.scheduledAt,
        ),
    )
    if body.start:
        campaign = await service.start(
            db, user, campaign.id, settings=settings, wake=campaigns.wake, **_start_tools(request)
        )
    return ok(_campaign(campaign, await service.progress(db, campaign)))


@router.get("/campaigns/{campaign_id}")
async def get_campaign(
    campaign_id: str, db: DbSession, user: UserByTokenOrKey
) -> Envelope[CampaignItem]:
    campaign = await service.get(db, user, parse_id(campaign_id, "Campaign"))
    return ok(_campaign(campaign, await service.progress(db, campaign)))


@router.get("/campaigns/{campaign_id}/recipients")
async def list_recipients(
    campaign_id: str,
    db: DbSession,
    user: UserByTokenOrKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Envelope[RecipientList]:
    views = await service.recipients(
        db, user, parse_id(campaign_id, "Campaign"), limit=limit, offset=offset
    )
    return ok(
        RecipientList(
            recipients=[
                RecipientItem(
                    id=str(v.recipient.id),
                    contactId=str(v.recipient.contact_id),
                    phone=f"+{number_of(v.recipient.jid)}",
                    text=v.recipient.text,
                    status=v.status,
                    reason=v.reason,
                    sessionId=str(v.recipient.session_id) if v.recipient.session_id else None,
                    messageId=v.recipient.message_id,
                    queuedAt=v.recipient.queued_at,
                    repliedAt=v.recipient.replied_at,
                )
                for v in views
            ]
        )
    )


@router.post("/campaigns/audience")
async def add_campaign_audience(
    campaign_id: Annotated[str, Query(alias="campaignId", max_length=64)],
    request: Request,
    db: DbSession,
    user: UserByTokenOrKey,
    settings: SettingsDep,
) -> Envelope[ImportReportData]:
    """A CSV file (as for a contacts import) added to a draft's audience."""
    report = await service.add_csv_audience(
        db,
        user,
        parse_id(campaign_id, "Campaign"),
        _csv_chunks(request),
        region=settings.broadcast_default_region,
    )
    return ok(_report(report))


@router.get("/campaigns/{campaign_id}/results.csv")
async def campaign_results(
    campaign_id: str, request: Request, db: DbSession, user: UserByTokenOrKey
) -> StreamingResponse:
    database: Database = request.app.state.database
    found = parse_id(campaign_id, "Campaign")
    rows = await service.results_csv(db, database, user, found)
    return _csv_response(rows, f"campaign-{found}.csv")


@router.post("/campaigns/{campaign_id}/start")
async def start_campaign(
    campaign_id: str,
    request: Request,
    db: DbSession,
    user: UserByTokenOrKey,
    settings: SettingsDep,
    campaigns: Runner,
) -> Envelope[CampaignItem]:
    campaign = await service.start(
        db,
        user,
        parse_id(campaign_id, "Campaign"),
        settings=settings,
        wake=campaigns.wake,
        **_start_tools(request),
    )
    return ok(_campaign(campaign, await service.progress(db, campaign)))


async def _move(
    campaign_id: str, action: str, db: DbSession, user: UserByTokenOrKey, campaigns: Runner
) -> Envelope[CampaignItem]:
    campaign = await service.move(
        db, user, parse_id(campaign_id, "Campaign"), action, wake=campaigns.wake
    )
    return ok(_campaign(campaign, await service.progress(db, campaign)))


@router.post("/campaigns/{campaign_id}/pause")
async def pause_campaign(
    campaign_id: str, db: DbSession, user: UserByTokenOrKey, campaigns: Runner
) -> Envelope[CampaignItem]:
    return await _move(campaign_id, "pause", db, user, campaigns)


@router.post("/campaigns/{campaign_id}/resume")
async def resume_campaign(
    campaign_id: str, db: DbSession, user: UserByTokenOrKey, campaigns: Runner
) -> Envelope[CampaignItem]:
    return await _move(campaign_id, "resume", db, user, campaigns)


@router.post("/campaigns/{campaign_id}/cancel")
async def cancel_campaign(
    campaign_id: str, db: DbSession, user: UserByTokenOrKey, campaigns: Runner
) -> Envelope[CampaignItem]:
    return await _move(campaign_id, "cancel", db, user, campaigns)


@router.delete("/campaigns/{campaign_id}")
async def delete_campaign(
    campaign_id: str, db: DbSession, user: UserByTokenOrKey
) -> MessageEnvelope:
    await service.delete(db, user, parse_id(campaign_id, "Campaign"))
    return MessageEnvelope(message="Campaign deleted")
