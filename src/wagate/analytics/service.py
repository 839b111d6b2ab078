"""Usage, per-session statistics and the activity log. Takes a DB session and
plain values; never commits.

Counting is cheap at any volume: each change adds to a per-day, per-session
counter row in the transaction of the change (see ``counters``), and the reads
sum those rows; nothing here scans the messages table.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics import counters
from wagate.analytics.models import ActivityLog
from wagate.analytics.repository import ActivityRepository, UsageRepository, UsageTotals
from wagate.errors import AppError, ErrorCode
from wagate.messages.models import MessageStatus
from wagate.sessions.models import WhatsAppSession
from wagate.sessions.repository import SessionRepository

DEFAULT_USAGE_DAYS = 30
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_USAGE_DAYS = 366

# Counts by (user, day, session), as the API-call buffer holds them.
PendingCounts = Mapping[tuple[uuid.UUID, date, uuid.UUID], Mapping[str, int]]


async def record_activity(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    action: str,
    metadata: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> ActivityLog:
    """Note something a user will want to see in their activity log (``user.login``,
    ``session.create``…). Never put secrets in ``metadata``: it is shown as is."""
    entry = ActivityLog(
        user_id=user_id, action=action, details=dict(metadata or {}), ip_address=ip_address
    )
    db.add(entry)
    return entry


def count_status_change(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    before: MessageStatus,
    after: MessageStatus,
) -> None:
    """Count an outgoing message moving from ``before`` to ``after``. A jump counts
    every step it passes (queued → read is sent, delivered and read)."""
    counts: dict[str, int] = {}
    if after is MessageStatus.FAILED:
        counts["failed"] = 1
    else:
        for step, field in (
            (MessageStatus.SENT, "sent"),
            (MessageStatus.DELIVERED, "delivered"),
            (MessageStatus.READ, "read"),
        ):
            if before.rank < step.rank <= after.rank:
                counts[field] = 1
    if counts:
        counters.add(db, user_id=user_id, session_id=session_id, counts=counts)


def count_received(db: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    counters.add(db, user_id=user_id, session_id=session_id, counts={"received": 1})


def count_api_calls(db: AsyncSession, pending: PendingCounts) -> None:
    for (user_id, day, session_id), counts in pending.items():
        counters.add(db, user_id=user_id, session_id=session_id, counts=dict(counts), day=day)


def parse_day(value: str | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        # fromisoformat alone would also take 20251212 and 2025-W50-5.
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"{field}: use YYYY-MM-DD") from None


@dataclass(frozen=True, slots=True)
class UsageReport:
    daily: list[tuple[date, UsageTotals]]
    summary: UsageTotals


def usage_range(start: date | None, end: date | None) -> tuple[date, date]:
    """The days a usage report covers: the given ones, or the last 30 days."""
    span = timedelta(days=DEFAULT_USAGE_DAYS - 1)
    try:
        if end is None:
            end = start + span if start else counters.today()
        if start is None:
            start = end - span
    except OverflowError:
        raise AppError(
            ErrorCode.VALIDATION_ERROR, "A usage report must lie within the calendar's years 1-9999"
        ) from None
    if start > end:
        raise AppError(ErrorCode.VALIDATION_ERROR, "startDate must not be after endDate")
    if (end - start).days >= MAX_USAGE_DAYS:
        raise AppError(
            ErrorCode.VALIDATION_ERROR, f"A usage report covers at most {MAX_USAGE_DAYS} days"
        )
    return start, end


async def usage(
    db: AsyncSession,
    user_id: uuid.UUID,
    *,
    start: date | None,
    end: date | None,
    pending: PendingCounts | None = None,
) -> UsageReport:
    """Daily usage of a user's sessions, every day of the range (zeros included).
    ``pending``: counts not written yet (this process's buffered API calls)."""
    start, end = usage_range(start, end)
    by_day = await UsageRepository(db).daily(user_id, start, end)
    for (owner, day, _), counts in (pending or {}).items():
        if owner == user_id and start <= day <= end:
            by_day[day] = by_day.get(day, UsageTotals()).plus(dict(counts))
    daily: list[tuple[date, UsageTotals]] = []
    summary = UsageTotals()
    # Counted, not stepped past ``end``: the day after 9999-12-31 does not exist.
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        totals = by_day.get(day, UsageTotals())
        daily.append((day, totals))
        summary = summary.plus(asdict(totals))
    return UsageReport(daily=daily, summary=summary)


async def session_stats(
    db: AsyncSession, user_id: uuid.UUID, pending: PendingCounts | None = None
) -> list[tuple[WhatsAppSession, UsageTotals]]:
    """Each of the user's sessions with its all-time totals."""
    sessions = await SessionRepository(db).list_for(user_id)
    totals = await UsageRepository(db).by_session(user_id)
    for (owner, _, session_id), counts in (pending or {}).items():
        if owner == user_id:
            totals[session_id] = totals.get(session_id, UsageTotals()).plus(dict(counts))
    return [(session, totals.get(session.id, UsageTotals())) for session in sessions]


async def activity(db: AsyncSession, user_id: uuid.UUID, limit: int) -> list[ActivityLog]:
    return await ActivityRepository(db).latest(user_id, limit)
