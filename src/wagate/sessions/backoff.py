"""Reconnect delays: exponential, capped, with jitter so sessions that dropped
together do not all come back in the same instant."""

from __future__ import annotations

import random


def reconnect_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """The wait before reconnect ``attempt`` (1 for the first): a random value in
    the upper half of ``min(cap, base * 2 ** (attempt - 1))``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
