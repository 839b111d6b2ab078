"""Campaigns: a template sent to an audience of contacts through one or more
sessions. Starting one resolves the audience and renders every recipient's
text (a missing variable stops the start and names the recipient); the
runner (``runner.py``) then hands recipients to the core's send queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.campaigns import contacts, rendering, templates, timing
from wagate.campaigns.csv_import import csv_text
from wagate.campaigns.models import (
    BroadcastContact,
    Campaign,
    CampaignRecipient,
    CampaignState,
    RecipientStatus,
)
from wagate.campaigns.repository import CampaignRepository, ContactRepository
from wagate.config import Settings
from wagate.errors import AppError, ErrorCode, not_found
from wagate.jid import number_of
from wagate.messages import uploads
from wagate.messages.media import MediaStore
from wagate.net.fetch import GuardedClients
from wagate.net.policy import url_reach
from wagate.sessions import lifecycle
from wagate.storage.base import utcnow
from wagate.storage.db import AfterCommit, Database, after_commit

# Missing-variable problems named in one refusal (the count covers them all).
MAX_NAMED_PROBLEMS = 20

# The message statuses a recipient's counts roll up into.
_AT_LEAST_SENT = ("sent", "delivered", "read", "played")
_AT_LEAST_DELIVERED = ("delivered", "read", "played")
_AT_LEAST_READ = ("read", "played")


def _validation(message: str) -> AppError:
    return AppError(ErrorCode.VALIDATION_ERROR, message)


async def get(db: AsyncSession, user: User, campaign_id: uuid.UUID) -> Campaign:
    campaign = await CampaignRepository(db).get(user.id, campaign_id)
    if campaign is None:
        raise not_found("Campaign")
    return campaign


async def list_owned(db: AsyncSession, user: User) -> Sequence[Campaign]:
    repository = CampaignRepository(db)
    return await repository.get_all(repository.owned(user.id).order_by(Campaign.created_at))


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a campaign sends: pacing per session, typing, a daily cap, quiet
    hours in a time zone, a number check first, and when to begin."""

    rate_per_minute: int
    jitter_seconds: float
    typing_ms: int = 0
    daily_cap: int | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    time_zone: str = "UTC"
    check_numbers: bool = False
    scheduled_at: datetime | None = None

    def validate(self) -> None:
        try:
            timing.zone(self.time_zone)
            if (self.quiet_start is None) != (self.quiet_end is None):
                raise timing.TimingError("quietStart and quietEnd go together")
            if self.quiet_start and self.quiet_end:
                timing.clock(self.quiet_start, "quietStart")
                timing.clock(self.quiet_end, "quietEnd")
        except timing.TimingError as exc:
            raise _validation(str(exc)) from None
        if self.scheduled_at is not None and self.scheduled_at.tzinfo is None:
            raise _validation("scheduledAt: must carry a time zone (e.g. 2026-12-02T09:00:00Z)")


async def create(
    db: AsyncSession,
    user: User,
    *,
    name: str,
    template_id: uuid.UUID,
    session_refs: Sequence[str],
    contact_ids: Sequence[uuid.UUID] = (),
    tags: Sequence[str] = (),
    weights: Sequence[int] = (),
    delivery: Delivery,
) -> Campaign:
    """``weights``: each session's share of the round robin, in ``session_refs``'
    order (all 1 when empty)."""
    delivery.validate()
    await templates.get(db, user, template_id)
    if not session_refs:
        raise _validation("sessionIds: at least one sending session is required")
    if weights and len(weights) != len(session_refs):
        raise _validation("sessionWeights: one weight per session in sessionIds")
    session_ids: list[str] = []
    session_weights: dict[str, int] = {}
    for index, ref in enumerate(session_refs):
        session = await lifecycle.find(db, user, ref)
        if str(session.id) not in session_ids:
            session_ids.append(str(session.id))
            session_weights[str(session.id)] = weights[index] if weights else 1
    if not contact_ids and not tags:
        raise _validation("an audience is required: contactIds and/or tags")
    campaign = Campaign(
        user_id=user.id,
        name=name,
        template_id=template_id,
        session_ids=session_ids,
        session_weights=session_weights,
        audience={"contactIds": [str(i) for i in contact_ids], "tags": list(tags)},
        rate_per_minute=delivery.rate_per_minute,
        jitter_seconds=delivery.jitter_seconds,
        typing_ms=delivery.typing_ms,
        daily_cap=delivery.daily_cap,
        quiet_start=delivery.quiet_start,
        quiet_end=delivery.quiet_end,
        time_zone=delivery.time_zone,
        check_numbers=delivery.check_numbers,
        scheduled_at=delivery.scheduled_at,
    )
    return await CampaignRepository(db).create(campaign)


async def add_csv_audience(
    db: AsyncSession,
    user: User,
    campaign_id: uuid.UUID,
    chunks: AsyncIterable[bytes],
    *,
    region: str,
) -> contacts.ImportReport:
    """A CSV file as (part of) a draft's audience: its rows are imported as the
    user's contacts, tagged ``campaign-<id>``, and that tag joins the audience."""
    campaign = await get(db, user, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        raise AppError(
            ErrorCode.CONFLICT, f"Campaign is {campaign.state}; only a draft's audience changes"
        )
    tag = f"campaign-{campaign.id.hex[:12]}"
    report = await contacts.import_csv(db, user, chunks, region=region, extra_tags=[tag])
    tags = list(campaign.audience.get("tags") or [])
    if tag not in tags:
        campaign.audience = {**campaign.audience, "tags": [*tags, tag]}
    await db.flush()
    return report


async def _audience(db: AsyncSession, user: User, campaign: Campaign) -> list[BroadcastContact]:
    repository = ContactRepository(db)
    found: dict[uuid.UUID, BroadcastContact] = {}
    tags = campaign.audience.get("tags") or []
    if tags:
        statement = repository.filtered(user.id, tags=tags).order_by(*ContactRepository.ORDER)
        for contact in await repository.get_all(statement):
            found.setdefault(contact.id, contact)
    for raw in campaign.audience.get("contactIds") or []:
        listed = await repository.get(user.id, uuid.UUID(raw))
        if listed is None:
            raise _validation(f"contactIds: contact {raw} not found")
        found.setdefault(listed.id, listed)
    if not found:
        raise _validation("the audience has no contacts")
    return list(found.values())


async def start(
    db: AsyncSession,
    user: User,
    campaign_id: uuid.UUID,
    *,
    media_store: MediaStore,
    http_clients: GuardedClients,
    settings: Settings,
    wake: AfterCommit,
) -> Campaign:
    """draft → running (or scheduled, when its time is still to come): every
    recipient rendered and stored, or nothing changes."""
    campaign = await get(db, user, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        raise AppError(ErrorCode.CONFLICT, f"Campaign is {campaign.state}; only a draft starts")
    template = await templates.get(db, user, campaign.template_id)
    audience = await _audience(db, user, campaign)
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for position, contact in enumerate(audience):
        values = rendering.variables_for(
            contact.name, contact.phone, contact.fields, template.defaults
        )
        try:
            text = rendering.render(template.body, values)
        except rendering.MissingVariable as exc:
            problems.append(f"{exc.name!r} for +{contact.phone} (contact {contact.id})")
            continue
        skipped = contact.opted_out
        rows.append(
            {
                "id": uuid.uuid4(),
                "campaign_id": campaign.id,
                "contact_id": contact.id,
                "position": position,
                "jid": contact.jid,
                "text": text,
                "status": RecipientStatus.SKIPPED if skipped else RecipientStatus.PENDING,
                "reason": "opted out" if skipped else None,
            }
        )
    if problems:
        named = "; ".join(problems[:MAX_NAMED_PROBLEMS])
        raise _validation(f"Missing template variable for {len(problems)} recipient(s): {named}")
    if template.media_url and template.media_type:
        media = await uploads.from_url(
            media_store,
            http_clients,
            template.media_url,
            kind=template.media_type,
            filename=None,
            settings=settings,
            reach=url_reach(settings, is_admin=user.is_admin),
        )
        ref = uploads.checked_media(media, kind=template.media_type)
        campaign.media = {
            "kind": template.media_type,
            "sha256": ref.sha256,
            "size": ref.size,
            "mimetype": ref.mimetype,
            "filename": ref.filename,
        }
    await db.execute(insert(CampaignRecipient), rows)
    later = campaign.scheduled_at is not None and campaign.scheduled_at > utcnow()
    campaign.state = CampaignState.SCHEDULED if later else CampaignState.RUNNING
    campaign.started_at = None if later else utcnow()
    await db.flush()
    after_commit(db, wake)
    return campaign


_MOVES: dict[str, tuple[tuple[CampaignState, ...], CampaignState]] = {
    "pause": ((CampaignState.RUNNING,), CampaignState.PAUSED),
    "resume": ((CampaignState.PAUSED,), CampaignState.RUNNING),
    "cancel": (
        (
            CampaignState.DRAFT,
            CampaignState.SCHEDULED,
            CampaignState.RUNNING,
            CampaignState.PAUSED,
        ),
        CampaignState.CANCELLED,
    ),
}


async def move(
    db: AsyncSession, user: User, campaign_id: uuid.UUID, action: str, *, wake: AfterCommit
) -> Campaign:
    """pause, resume or cancel. Messages already in a session's queue still go
    out; a cancelled campaign's pending recipients are skipped."""
    campaign = await get(db, user, campaign_id)
    allowed, target = _MOVES[action]
    if campaign.state not in allowed:
        raise AppError(ErrorCode.CONFLICT, f"Campaign is {campaign.state}; it cannot {action}")
    campaign.state = target
    if target is CampaignState.CANCELLED:
        campaign.finished_at = utcnow()
        await db.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.status == RecipientStatus.PENDING,
            )
            .values(status=RecipientStatus.SKIPPED, reason="campaign cancelled")
        )
    await db.flush()
    after_commit(db, wake)
    return campaign


async def delete(db: AsyncSession, user: User, campaign_id: uuid.UUID) -> None:
    campaign = await get(db, user, campaign_id)
    if campaign.state in (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED):
        raise AppError(ErrorCode.CONFLICT, f"Campaign is {campaign.state}; cancel it first")
    await CampaignRepository(db).delete(campaign)


# -- tracking --------------------------------------------------------------


def share_of_settled(part: int, *, sent: int, failed: int) -> float:
    """Of the messages that left (sent or failed), the share ``part`` is: the
    delivery and read rates of a campaign, overall or at a point in time."""
    settled = sent + failed
    return round(part / settled, 4) if settled else 0.0


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    pending: int
    queued: int
    sent: int  # sent or further
    delivered: int  # delivered or further
    read: int
    failed: int
    skipped: int
    replied: int

    @property
    def delivery_rate(self) -> float:
        return share_of_settled(self.delivered, sent=self.sent, failed=self.failed)

    @property
    def read_rate(self) -> float:
        return share_of_settled(self.read, sent=self.sent, failed=self.failed)


def progress_of(counts: dict[str, int]) -> Progress:
    def total(*statuses: str) -> int:
        return sum(counts.get(status, 0) for status in statuses)

    replied = counts.pop("replied", 0)
    return Progress(
        total=sum(counts.values()),
        pending=total("pending"),
        queued=total("queued", "sending"),
        sent=total(*_AT_LEAST_SENT),
        delivered=total(*_AT_LEAST_DELIVERED),
        read=total(*_AT_LEAST_READ),
        failed=total("failed"),
        skipped=total("skipped"),
        replied=replied,
    )


async def progress(db: AsyncSession, campaign: Campaign) -> Progress:
    return progress_of(await CampaignRepository(db).status_counts(campaign.id))


def _public(message_status: str | None, recipient_status: str) -> str:
    """A recipient's status: its message's (``sending`` shows as ``queued``), else its own."""
    if message_status is None:
        return recipient_status
    return "queued" if message_status == "sending" else message_status


@dataclass(frozen=True, slots=True)
class RecipientView:
    recipient: CampaignRecipient
    status: str
    reason: str | None


async def recipients(
    db: AsyncSession, user: User, campaign_id: uuid.UUID, *, limit: int, offset: int
) -> list[RecipientView]:
    campaign = await get(db, user, campaign_id)
    statement = CampaignRepository(db).recipients_with_status(campaign.id)
    rows = await db.execute(statement.limit(limit).offset(offset))
    views = []
    for recipient, message_status, message_error in rows:
        status = _public(message_status, recipient.status)
        views.append(RecipientView(recipient, status, message_error or recipient.reason))
    return views


RESULTS_HEADER = [
    "phone",
    "status",
    "reason",
    "message_id",
    "session_id",
    "queued_at",
    "replied_at",
]


async def results_csv(
    db: AsyncSession, database: Database, user: User, campaign_id: uuid.UUID
) -> AsyncIterator[str]:
    """The campaign's recipients as CSV, checked for ownership now and read in a
    transaction of its own as the response streams."""
    campaign = await get(db, user, campaign_id)

    async def rows() -> AsyncIterator[list[object]]:
        async with database.transaction() as reader:
            statement = CampaignRepository(reader).recipients_with_status(campaign.id)
            result = await reader.stream(statement.execution_options(yield_per=500))
            async for recipient, message_status, message_error in result:
                yield [
                    f"+{number_of(recipient.jid)}",
                    _public(message_status, recipient.status),
                    message_error or recipient.reason or "",
                    recipient.message_id or "",
                    recipient.session_id or "",
                    recipient.queued_at.isoformat() if recipient.queued_at else "",
                    recipient.replied_at.isoformat() if recipient.replied_at else "",
                ]
                reader.expunge(recipient)

    return csv_text(RESULTS_HEADER, rows())
