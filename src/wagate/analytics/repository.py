from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Label, Select, Subquery, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics.models import USAGE_FIELDS, ActivityLog, UsageCounter
from wagate.storage.repository import RepositoryBase


@dataclass(frozen=True, slots=True)
class UsageTotals:
    sent: int = 0
    received: int = 0
    failed: int = 0
    delivered: int = 0
    read: int = 0
    api_calls: int = 0

    def plus(self, counts: dict[str, int]) -> UsageTotals:
        return UsageTotals(
            **{field: getattr(self, field) + counts.get(field, 0) for field in USAGE_FIELDS}
        )


def _sums(scoped: Subquery) -> list[Label[int]]:
    return [func.coalesce(func.sum(scoped.c[f]), 0).label(f) for f in USAGE_FIELDS]


def _totals(row: object) -> UsageTotals:
    return UsageTotals(**{field: int(getattr(row, field)) for field in USAGE_FIELDS})


class UsageRepository:
    """Reads of usage counters; every one starts from :meth:`owned_by`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def owned_by(self, user_id: uuid.UUID) -> Select[UsageCounter]:
        return select(UsageCounter).where(UsageCounter.user_id == user_id)

    async def daily(self, user_id: uuid.UUID, start: date, end: date) -> dict[date, UsageTotals]:
        """Totals per day over the user's sessions, for days that have any."""
        scoped = self.owned_by(user_id).where(UsageCounter.day.between(start, end)).subquery()
        statement = select(scoped.c.day, *_sums(scoped)).group_by(scoped.c.day)
        rows = (await self.session.execute(statement)).all()
        return {row.day: _totals(row) for row in rows}

    async def by_session(self, user_id: uuid.UUID) -> dict[uuid.UUID, UsageTotals]:
        """All-time totals per session of the user."""
        scoped = self.owned_by(user_id).subquery()
        statement = select(scoped.c.session_id, *_sums(scoped)).group_by(scoped.c.session_id)
        rows = (await self.session.execute(statement)).all()
        return {row.session_id: _totals(row) for row in rows}


class ActivityRepository(RepositoryBase[ActivityLog]):
    model = ActivityLog

    def owned_by(self, user_id: uuid.UUID) -> Select[ActivityLog]:
        return self.base_statement().where(ActivityLog.user_id == user_id)

    async def latest(self, user_id: uuid.UUID, limit: int) -> list[ActivityLog]:
        statement = (
            self.owned_by(user_id)
            .order_by(ActivityLog.created_at.desc(), ActivityLog.id.desc())
            .limit(limit)
        )
        return list(await self.get_all(statement))
