from __future__ import annotations

import hmac

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from wagate.analytics import service
from wagate.analytics.api_calls import ApiCallBuffer
from wagate.analytics.metrics import Metrics
from wagate.analytics.repository import UsageTotals
from wagate.analytics.schemas import (
    ActivityList,
    ActivityOut,
    MessageStats,
    SessionAnalytics,
    SessionAnalyticsList,
    UsageData,
    UsageDay,
    UsageSummary,
)
from wagate.deps import CurrentUser, DbSession, SettingsDep, bearer_token
from wagate.errors import AppError, ErrorCode
from wagate.schemas import API_PREFIX, Envelope, ok

router = APIRouter(prefix=f"{API_PREFIX}/analytics", tags=["analytics"])
metrics_router = APIRouter(tags=["metrics"])


@router.get("/usage")
async def usage(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    startDate: str | None = Query(default=None, description="YYYY-MM-DD (UTC)"),
    endDate: str | None = Query(default=None, description="YYYY-MM-DD (UTC)"),
) -> Envelope[UsageData]:
    buffer: ApiCallBuffer = request.app.state.api_calls
    report = await service.usage(
        db,
        user.id,
        start=service.parse_day(startDate, "startDate"),
        end=service.parse_day(endDate, "endDate"),
        pending=buffer.pending(),
    )
    s = report.summary
    return ok(
        UsageData(
            startDate=report.daily[0][0].isoformat(),
            endDate=report.daily[-1][0].isoformat(),
            daily=[
                UsageDay(
                    date=day.isoformat(),
                    messages_sent=t.sent,
                    messages_received=t.received,
                    messages_failed=t.failed,
                    messages_delivered=t.delivered,
                    messages_read=t.read,
                    api_calls=t.api_calls,
                )
                for day, t in report.daily
            ],
            summary=UsageSummary(
                totalMessagesSent=s.sent,
                totalMessagesReceived=s.received,
                totalMessagesFailed=s.failed,
                totalMessagesDelivered=s.delivered,
                totalMessagesRead=s.read,
                totalApiCalls=s.api_calls,
            ),
        )
    )


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _stats(t: UsageTotals) -> MessageStats:
    return MessageStats(
        total=t.sent + t.received,
        sent=t.sent,
        received=t.received,
        failed=t.failed,
        delivered=t.delivered,
        read=t.read,
        deliveryRate=_rate(t.delivered, t.sent),
        readRate=_rate(t.read, t.sent),
    )


@router.get("/sessions")
async def sessions(
    request: Request, db: DbSession, user: CurrentUser
) -> Envelope[SessionAnalyticsList]:
    buffer: ApiCallBuffer = request.app.state.api_calls
    rows = await service.session_stats(db, user.id, pending=buffer.pending())
    return ok(
        SessionAnalyticsList(
            sessions=[
                SessionAnalytics(
                    session_id=str(session.id),
                    name=session.name,
                    status=session.session_state.sak_status,
                    state=session.state,
                    phone_number=session.phone_number,
                    created_at=session.created_at,
                    api_calls=totals.api_calls,
                    messageStats=_stats(totals),
                )
                for session, totals in rows
            ]
        )
    )


@router.get("/activity")
async def activity(
    db: DbSession, user: CurrentUser, limit: int = Query(default=50, ge=1, le=500)
) -> Envelope[ActivityList]:
    entries = await service.activity(db, user.id, limit)
    return ok(
        ActivityList(
            logs=[
                ActivityOut(
                    action=e.action,
                    metadata=e.details,
                    ip_address=e.ip_address,
                    created_at=e.created_at,
                )
                for e in entries
            ]
        )
    )


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, db: DbSession, settings: SettingsDep) -> Response:
    """Prometheus text format; behind ``Authorization: Bearer $WAGATE_METRICS_TOKEN``
    when that is set."""
    if settings.metrics_token:
        token = bearer_token(request)
        if token is None:
            raise AppError(ErrorCode.NO_TOKEN, "Authentication token missing")
        if not hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
            raise AppError(ErrorCode.INVALID_TOKEN, "Invalid token")
    registry: Metrics = request.app.state.metrics
    return Response(await registry.render(db), media_type=CONTENT_TYPE_LATEST)
