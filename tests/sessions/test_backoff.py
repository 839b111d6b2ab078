"""Reconnect delays grow exponentially, stay under the cap, and are jittered."""

from __future__ import annotations

import random

from wagate.sessions.backoff import reconnect_delay


def test_delays_double_until_the_cap_and_keep_to_the_upper_half() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]:
        for _ in range(50):
            delay = reconnect_delay(attempt, base=1.0, cap=60.0, rng=rng)
            assert ceiling / 2 <= delay <= ceiling, (attempt, delay)


def test_sessions_that_dropped_together_do_not_return_together() -> None:
    rng = random.Random(1)
    delays = {round(reconnect_delay(4, base=1.0, cap=60.0, rng=rng), 3) for _ in range(20)}
    assert len(delays) > 15
