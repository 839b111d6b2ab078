"""A campaign's clock rules in its time zone: quiet hours and the day a daily
cap counts in."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class TimingError(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimingError(f"timeZone: {name!r} is not a time zone (e.g. Asia/Kolkata)") from None


def clock(value: str, field: str) -> time:
    match = _HH_MM.fullmatch(value)
    if match is None:
        raise TimingError(f"{field}: must be HH:MM (24-hour)")
    return time(int(match[1]), int(match[2]))


def quiet_for(now: datetime, start: str, end: str, time_zone: str) -> float:
    """Seconds until the quiet hours ``start``-``end`` (local, may span
    midnight) end, or 0 when ``now`` is outside them."""
    local = now.astimezone(zone(time_zone))
    begins, ends = clock(start, "quietStart"), clock(end, "quietEnd")
    at = local.time()
    inside = begins <= at < ends if begins < ends else (at >= begins or at < ends)
    if begins == ends or not inside:
        return 0.0
    end_at = local.replace(hour=ends.hour, minute=ends.minute, second=0, microsecond=0)
    if end_at <= local:
        end_at += timedelta(days=1)
    return (end_at - local).total_seconds()


def day_start(now: datetime, time_zone: str) -> datetime:
    """Local midnight of ``now``'s day, as an aware datetime."""
    local = now.astimezone(zone(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)
