"""Analytics: messages sent, received and failed per day as a chart drawn on the
server (SVG), each session's delivery and read rates, and the activity log."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from wagate.analytics import counters
from wagate.analytics import service as analytics_service
from wagate.analytics.api_calls import ApiCallBuffer
from wagate.analytics.models import ActivityLog
from wagate.analytics.repository import UsageTotals
from wagate.dashboard.web import PageRoute, PageUser, check_csrf, format_number, render
from wagate.deps import DbSession

router = APIRouter(
    prefix="/dashboard/analytics",
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)

PERIODS = (7, 30, 90)
ACTIVITY_LIMIT = 50
SERIES = ("sent", "received", "failed")

# What the activity log says for each action it records; others show as they are.
ACTION_LABELS = {
    "user.register": "Account created",
    "user.login": "Logged in",
    "apikey.create": "API key created",
    "apikey.revoke": "API key revoked",
    "session.create": "Session created",
    "session.delete": "Session deleted",
    "session.connected": "Session connected",
    "session.logged_out": "Session logged out",
    "session.failed": "Session failed",
}

# The chart's canvas, in SVG user units (it scales to its box).
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 26


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2 or 5 times a power of ten) at or above ``value``."""
    if value <= 4:
        return 4
    magnitude = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def usage_chart(daily: list[tuple[date, UsageTotals]]) -> dict[str, Any]:
    """Grouped bars per day: the geometry the template draws, nothing else."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top = _nice_max(max((max(t.sent, t.received, t.failed) for _, t in daily), default=0))
    slot = plot_width / max(len(daily), 1)
    bar_width = max(slot * 0.8 / len(SERIES), 1.0)
    bars: list[Bar] = []
    labels: list[dict[str, Any]] = []
    label_every = max(1, math.ceil(len(daily) / 10))
    for index, (day, totals) in enumerate(daily):
        start = LEFT + index * slot + slot * 0.1
        for offset, series in enumerate(SERIES):
            value = getattr(totals, series)
            height = plot_height * value / top
            bars.append(
                Bar(
                    x=round(start + offset * bar_width, 2),
                    y=round(TOP + plot_height - height, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    series=series,
                    title=f"{day:%b %d}: {value} {series}",
                )
            )
        if index % label_every == 0:
            labels.append({"x": round(LEFT + (index + 0.5) * slot, 2), "text": f"{day:%b %d}"})
    grid = [
        {"y": round(TOP + plot_height * (1 - i / 4), 2), "value": top * i // 4} for i in range(5)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_height,
        "bars": bars,
        "labels": labels,
        "grid": grid,
    }


def activity_line(entry: ActivityLog) -> dict[str, Any]:
    """One entry of the log in words: names and numbers, not ids."""
    details = entry.details or {}
    facts = [str(details[key]) for key in ("name",) if details.get(key)]
    if details.get("phoneNumber"):
        facts.append(format_number(str(details["phoneNumber"])))
    if details.get("reason"):
        facts.append(str(details["reason"]).replace("_", " "))
    if entry.ip_address:
        facts.append(f"from {entry.ip_address}")
    return {
        "label": ACTION_LABELS.get(entry.action, entry.action),
        "action": entry.action,
        "facts": " · ".join(facts),
        "at": entry.created_at,
    }


def _rate(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


@router.get("")
async def analytics_page(
    request: Request, db: DbSession, user: PageUser, days: int = Query(default=30)
) -> Response:
    days = days if days in PERIODS else 30
    buffer: ApiCallBuffer = request.app.state.api_calls
    end = counters.today()  # usage days are UTC days
    report = await analytics_service.usage(
        db, user.id, start=end - timedelta(days=days - 1), end=end, pending=buffer.pending()
    )
    sessions = [
        {
            "session": session,
            "totals": totals,
            "delivery_rate": _rate(totals.delivered, totals.sent),
            "read_rate": _rate(totals.read, totals.sent),
        }
        for session, totals in await analytics_service.session_stats(db, user.id)
    ]
    context = {
        "title": "Analytics",
        "nav": "analytics",
        "days": days,
        "periods": PERIODS,
        "summary": report.summary,
        "chart": usage_chart(report.daily),
        "sessions": sessions,
        "activity": [
            activity_line(entry)
            for entry in await analytics_service.activity(db, user.id, ACTIVITY_LIMIT)
        ],
    }
    return render(request, "analytics.html", context)
