"""Statements of the broadcast domain, always scoped to the owning user."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, or_, select, update

from wagate.campaigns.models import (
    BroadcastContact,
    Campaign,
    CampaignRecipient,
    MessageTemplate,
)
from wagate.messages.models import Message
from wagate.storage.repository import RepositoryBase


def _has_tag(tag: str) -> Any:
    # Tags are a JSON list; matching its text form works on SQLite and PostgreSQL.
    return cast(BroadcastContact.tags, String).like(f'%"{tag}"%')


class ContactRepository(RepositoryBase[BroadcastContact]):
    model = BroadcastContact

    # Oldest first; a file's rows share one time, so their numbers break the tie.
    ORDER = (BroadcastContact.created_at, BroadcastContact.phone)

    def owned(self, user_id: uuid.UUID) -> Select[BroadcastContact]:
        return select(BroadcastContact).where(BroadcastContact.user_id == user_id)

    async def get(self, user_id: uuid.UUID, contact_id: uuid.UUID) -> BroadcastContact | None:
        return await self.get_one_or_none(
            self.owned(user_id).where(BroadcastContact.id == contact_id)
        )

    async def by_jid(self, user_id: uuid.UUID, jid: str) -> BroadcastContact | None:
        return await self.get_one_or_none(self.owned(user_id).where(BroadcastContact.jid == jid))

    def filtered(
        self, user_id: uuid.UUID, *, tags: Sequence[str] = (), search: str | None = None
    ) -> Select[BroadcastContact]:
        statement = self.owned(user_id)
        if tags:
            statement = statement.where(or_(*(_has_tag(tag) for tag in tags)))
        if search:
            pattern = f"%{search.lower()}%"
            statement = statement.where(
                or_(
                    func.lower(BroadcastContact.name).like(pattern),
                    BroadcastContact.phone.like(pattern),
                )
            )
        return statement

    async def existing(self, user_id: uuid.UUID, jids: Sequence[str]) -> dict[str, Any]:
        rows = await self.session.execute(
            select(
                BroadcastContact.jid,
                BroadcastContact.id,
                BroadcastContact.tags,
                BroadcastContact.fields,
            ).where(BroadcastContact.user_id == user_id, BroadcastContact.jid.in_(jids))
        )
        return {row.jid: row for row in rows}


class TemplateRepository(RepositoryBase[MessageTemplate]):
    model = MessageTemplate

    def owned(self, user_id: uuid.UUID) -> Select[MessageTemplate]:
        return select(MessageTemplate).where(MessageTemplate.user_id == user_id)

    async def get(self, user_id: uuid.UUID, template_id: uuid.UUID) -> MessageTemplate | None:
        return await self.get_one_or_none(
            self.owned(user_id).where(MessageTemplate.id == template_id)
        )


class CampaignRepository(RepositoryBase[Campaign]):
    model = Campaign

    def owned(self, user_id: uuid.UUID) -> Select[Campaign]:
        return select(Campaign).where(Campaign.user_id == user_id)

    async def get(self, user_id: uuid.UUID, campaign_id: uuid.UUID) -> Campaign | None:
        return await self.get_one_or_none(self.owned(user_id).where(Campaign.id == campaign_id))

    async def running(self) -> Sequence[Campaign]:
        return await self.get_all(select(Campaign).where(Campaign.state == "running"))

    async def tracked(self, finished_since: datetime) -> Sequence[Campaign]:
        """Campaigns whose state or counts may still move: scheduled or started and
        not finished, finished since ``finished_since`` (late receipts), or
        completed and not yet reported so. Unscoped: for the runner, which
        reports every user's campaigns."""
        statement = select(Campaign).where(
            or_(
                Campaign.state.in_(("scheduled", "running", "paused")),
                and_(
                    Campaign.state.in_(("completed", "cancelled")),
                    Campaign.finished_at >= finished_since,
                ),
                and_(Campaign.state == "completed", Campaign.completion_reported_at.is_(None)),
            )
        )
        return await self.get_all(statement)

    async def mark_completion_reported(self, campaign_id: uuid.UUID, at: datetime) -> bool:
        """Claim the one ``campaign.completed`` of a campaign (False: already reported)."""
        result = await self.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.completion_reported_at.is_(None))
            .values(completion_reported_at=at)
            .execution_options(synchronize_session=False)
        )
        return getattr(result, "rowcount", 0) == 1

    async def scheduled(self) -> Sequence[Campaign]:
        return await self.get_all(select(Campaign).where(Campaign.state == "scheduled"))

    async def next_pending(self, campaign_id: uuid.UUID, limit: int) -> Sequence[CampaignRecipient]:
        result = await self.session.execute(
            select(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == "pending",
            )
            .order_by(CampaignRecipient.position)
            .limit(limit)
            # Another gateway process's runner skips rows this one is handing over
            # (PostgreSQL; SQLite has one writer at a time anyway).
            .with_for_update(skip_locked=True)
        )
        return result.scalars().all()

    async def pending_count(self, campaign_id: uuid.UUID) -> int:
        """Pending recipients, those another runner holds included."""
        return int(
            await self.session.scalar(
                select(func.count()).where(
                    CampaignRecipient.campaign_id == campaign_id,
                    CampaignRecipient.status == "pending",
                )
            )
            or 0
        )

    def recipients_with_status(
        self, campaign_id: uuid.UUID
    ) -> Select[CampaignRecipient, str, str | None]:
        """Each recipient with its message's status (the core tracks it)."""
        return (
            select(CampaignRecipient, Message.status, Message.error)
            .outerjoin(
                Message,
                (Message.session_id == CampaignRecipient.session_id)
                & (Message.message_id == CampaignRecipient.message_id),
            )
            .where(CampaignRecipient.campaign_id == campaign_id)
            .order_by(CampaignRecipient.position)
        )

    async def status_counts(self, campaign_id: uuid.UUID) -> dict[str, int]:
        status = func.coalesce(Message.status, CampaignRecipient.status)
        inner = self.recipients_with_status(campaign_id).order_by(None)
        subquery = inner.with_only_columns(status.label("status")).subquery()
        rows = await self.session.execute(
            select(subquery.c.status, func.count()).group_by(subquery.c.status)
        )
        counts = {str(row[0]): int(row[1]) for row in rows}
        replied = await self.session.scalar(
            select(func.count()).where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.replied_at.is_not(None),
            )
        )
        return counts | {"replied": int(replied or 0)}
