"""When to try a failed delivery again: the schedule, its jitter, ``Retry-After``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Statuses whose Retry-After is honoured (the server says when it can take more).
RETRY_AFTER_STATUSES = frozenset({429, 503})
# A Retry-After further out than this is taken as this: one answer must not
# hold up an endpoint's queue longer than the default schedule's last step.
RETRY_AFTER_CAP = 24 * 60 * 60.0
_JITTER = 0.2


def next_delay(
    delays: Sequence[float], attempts_made: int, retry_after: float | None = None
) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` failed ones, or None
    when the schedule is used up. ``delays[0]`` is the first attempt's own delay.

    The schedule's delays get +/-20% jitter, so endpoints that failed together
    (an outage) are not all retried in the same instant. A ``Retry-After`` is
    used as given, capped at the schedule's longest delay.
    """
    if attempts_made >= len(delays):
        return None
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP)
    delay = delays[attempts_made]
    return delay * (1 - _JITTER + 2 * _JITTER * random.random())  # noqa: S311 (jitter, not crypto)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header as seconds from ``now``: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
