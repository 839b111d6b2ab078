"""What the broadcast pages of the dashboard show and do, one function each
(a page makes one service call): contacts with their tags, templates, the
campaign wizard, a campaign's progress with its rates over time, and the
broadcast step (a draft sent through the accounts chosen for it)."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.campaigns import contacts, service, templates
from wagate.campaigns.models import (
    BroadcastContact,
    Campaign,
    CampaignState,
    MessageTemplate,
)
from wagate.campaigns.repository import CampaignRepository
from wagate.config import Settings
from wagate.errors import AppError, ErrorCode
from wagate.messages.media import MediaStore
from wagate.messages.models import Message
from wagate.net.fetch import GuardedClients
from wagate.sessions import lifecycle
from wagate.sessions import service as sessions_service
from wagate.sessions.models import WhatsAppSession
from wagate.storage.base import utcnow
from wagate.storage.db import AfterCommit

# Points of a campaign's rates-over-time chart.
TIMELINE_POINTS = 60
# Contacts the wizard lists one by one (tags and a CSV cover larger audiences).
WIZARD_CONTACTS = 200


@dataclass(frozen=True, slots=True)
class ContactsView:
    contacts: Sequence[BroadcastContact]
    total: int
    tags: list[tuple[str, int]]  # every tag of the user's contacts, with its count


async def tag_counts(db: AsyncSession, user: User) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    rows = await db.stream_scalars(
        select(BroadcastContact.tags).where(BroadcastContact.user_id == user.id)
    )
    async for tags in rows:
        counts.update(tags or [])
    return sorted(counts.items())


async def contacts_page(
    db: AsyncSession,
    user: User,
    *,
    tag: str | None,
    search: str | None,
    limit: int,
    offset: int,
) -> ContactsView:
    found, total = await contacts.page(
        db, user, tags=[tag] if tag else [], search=search, limit=limit, offset=offset
    )
    return ContactsView(found, total, await tag_counts(db, user))


@dataclass(frozen=True, slots=True)
class TemplatesView:
    templates: Sequence[MessageTemplate]
    editing: MessageTemplate | None
    sample: BroadcastContact | None  # whom the live preview renders for


async def templates_page(
    db: AsyncSession, user: User, template_id: uuid.UUID | None = None
) -> TemplatesView:
    editing = await templates.get(db, user, template_id) if template_id else None
    found, _ = await contacts.page(db, user, limit=1)
    return TemplatesView(await templates.list_owned(db, user), editing, found[0] if found else None)


async def save_template(
    db: AsyncSession, user: User, template_id: uuid.UUID | None, *, name: str, body: str
) -> MessageTemplate:
    """A new template, or the named one changed."""
    if template_id is None:
        return await templates.create(db, user, name=name, body=body)
    return await templates.update_template(db, user, template_id, {"name": name, "body": body})


@dataclass(frozen=True, slots=True)
class WizardView:
    templates: Sequence[MessageTemplate]
    tags: list[tuple[str, int]]
    contacts: Sequence[BroadcastContact]
    contact_total: int
    sessions: list[WhatsAppSession]


async def wizard(db: AsyncSession, user: User) -> WizardView:
    found, total = await contacts.page(db, user, limit=WIZARD_CONTACTS)
    return WizardView(
        await templates.list_owned(db, user),
        await tag_counts(db, user),
        found,
        total,
        await sessions_service.list_owned(db, user),
    )


@dataclass(frozen=True, slots=True)
class StartTools:
    """What starting a campaign needs besides the database (its template's media)."""

    media_store: MediaStore
    http_clients: GuardedClients
    settings: Settings
    wake: AfterCommit


@dataclass(frozen=True, slots=True)
class Launched:
    campaign: Campaign
    report: contacts.ImportReport | None


async def launch(
    db: AsyncSession,
    user: User,
    *,
    name: str,
    template_id: uuid.UUID,
    session_refs: Sequence[str],
    weights: Sequence[int],
    contact_ids: Sequence[uuid.UUID],
    tags: Sequence[str],
    csv: AsyncIterable[bytes] | None,
    delivery: service.Delivery,
    start: bool,
    tools: StartTools,
) -> Launched:
    """The wizard's last step: the campaign created with its audience (chosen
    contacts, tags, and the rows of a CSV file, imported as contacts tagged
    ``csv-<random>``, a tag that joins the audience), then started (or kept
    as a draft for the broadcast page). One transaction: a refusal keeps nothing."""
    report = None
    audience_tags = list(tags)
    if csv is not None:
        tag = f"csv-{secrets.token_hex(6)}"
        report = await contacts.import_csv(
            db, user, csv, region=tools.settings.broadcast_default_region, extra_tags=[tag]
        )
        if report.imported or report.updated:
            audience_tags.append(tag)
    campaign = await service.create(
        db,
        user,
        name=name,
        template_id=template_id,
        session_refs=session_refs,
        contact_ids=contact_ids,
        tags=audience_tags,
        weights=weights,
        delivery=delivery,
    )
    if start:
        campaign = await _start(db, user, campaign.id, tools)
    return Launched(campaign, report)


async def _start(
    db: AsyncSession, user: User, campaign_id: uuid.UUID, tools: StartTools
) -> Campaign:
    return await service.start(
        db,
        user,
        campaign_id,
        media_store=tools.media_store,
        http_clients=tools.http_clients,
        settings=tools.settings,
        wake=tools.wake,
    )


@dataclass(frozen=True, slots=True)
class CampaignRow:
    campaign: Campaign
    progress: service.Progress

    @property
    def done(self) -> int:
        """Recipients whose message left (sent or failed) or who were skipped."""
        return self.progress.sent + self.progress.failed + self.progress.skipped

    @property
    def percent(self) -> int:
        total = self.progress.total
        return int(self.done * 100 // total) if total else 0


async def campaigns_page(db: AsyncSession, user: User) -> list[CampaignRow]:
    """The user's campaigns, newest first, each with its counts."""
    found = await service.list_owned(db, user)
    return [CampaignRow(c, await service.progress(db, c)) for c in reversed(found)]


@dataclass(frozen=True, slots=True)
class BroadcastView:
    drafts: list[CampaignRow]
    active: list[CampaignRow]  # scheduled, running, paused
    sessions: list[WhatsAppSession]
    template_names: dict[uuid.UUID, str]


_ACTIVE = (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED)


async def broadcast_page(db: AsyncSession, user: User) -> BroadcastView:
    rows = await campaigns_page(db, user)
    return BroadcastView(
        drafts=[r for r in rows if r.campaign.state == CampaignState.DRAFT],
        active=[r for r in rows if r.campaign.state in _ACTIVE],
        sessions=await sessions_service.list_owned(db, user),
        template_names={t.id: t.name for t in await templates.list_owned(db, user)},
    )


async def send_draft(
    db: AsyncSession,
    user: User,
    campaign_id: uuid.UUID,
    session_refs: Sequence[str],
    tools: StartTools,
) -> Campaign:
    """The broadcast step: a draft sent through the accounts chosen now (equal
    shares), started at once (or at its schedule)."""
    campaign = await service.get(db, user, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        raise AppError(ErrorCode.CONFLICT, f"Campaign is {campaign.state}; only a draft is sent")
    if not session_refs:
        raise AppError(ErrorCode.VALIDATION_ERROR, "accounts: choose at least one account")
    chosen: list[str] = []
    for ref in session_refs:
        session = await lifecycle.find(db, user, ref)
        if str(session.id) not in chosen:
            chosen.append(str(session.id))
    campaign.session_ids = chosen
    campaign.session_weights = dict.fromkeys(chosen, 1)
    await db.flush()
    return await _start(db, user, campaign.id, tools)


@dataclass(frozen=True, slots=True)
class RatePoint:
    at: datetime
    sent: int
    delivered: int
    read: int
    failed: int

    @property
    def delivery_rate(self) -> float:
        return service.share_of_settled(self.delivered, sent=self.sent, failed=self.failed)

    @property
    def read_rate(self) -> float:
        return service.share_of_settled(self.read, sent=self.sent, failed=self.failed)


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    campaign: Campaign
    progress: service.Progress
    template: MessageTemplate | None
    sessions: list[WhatsAppSession]
    timeline: list[RatePoint] = field(default_factory=list)

    @property
    def row(self) -> CampaignRow:
        return CampaignRow(self.campaign, self.progress)


async def campaign_detail(
    db: AsyncSession, user: User, campaign_id: uuid.UUID, *, with_timeline: bool = True
) -> CampaignDetail:
    """A campaign with its counts, its accounts and (``with_timeline``) its
    delivery and read rates over time, from its messages' own timestamps."""
    campaign = await service.get(db, user, campaign_id)
    progress = await service.progress(db, campaign)
    owned = {str(s.id): s for s in await sessions_service.list_owned(db, user)}
    template = await db.get(MessageTemplate, campaign.template_id)
    timeline = await _timeline(db, campaign) if with_timeline else []
    return CampaignDetail(
        campaign,
        progress,
        template,
        [owned[i] for i in campaign.session_ids if i in owned],
        timeline,
    )


async def _timeline(db: AsyncSession, campaign: Campaign) -> list[RatePoint]:
    begin = campaign.started_at
    if begin is None:
        return []
    statement = (
        CampaignRepository(db)
        .recipients_with_status(campaign.id)
        .order_by(None)
        .with_only_columns(
            Message.sent_at, Message.delivered_at, Message.read_at, Message.failed_at
        )
    )
    stamps = (await db.execute(statement)).all()
    end = campaign.finished_at or utcnow()
    latest = [t for row in stamps for t in row if t is not None]
    if latest:
        end = max(end, *latest)
    span = max((end - begin).total_seconds(), 1.0)
    points = min(TIMELINE_POINTS, max(2, int(span) + 1))
    step = timedelta(seconds=span / (points - 1))
    marks = [begin + step * i for i in range(points)]
    # A read message was delivered and sent, whichever receipt came first.
    sent = _cumulative([row[0] or row[1] or row[2] for row in stamps], marks)
    delivered = _cumulative([row[1] or row[2] for row in stamps], marks)
    read = _cumulative([row[2] for row in stamps], marks)
    failed = _cumulative([row[3] for row in stamps], marks)
    return [RatePoint(marks[i], sent[i], delivered[i], read[i], failed[i]) for i in range(points)]


def _cumulative(stamps: list[datetime | None], marks: list[datetime]) -> list[int]:
    """How many of ``stamps`` are at or before each mark."""
    ordered = sorted(t for t in stamps if t is not None)
    counts, index = [], 0
    for mark in marks:
        while index < len(ordered) and ordered[index] <= mark:
            index += 1
        counts.append(index)
    return counts
