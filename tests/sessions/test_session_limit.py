"""The free plan's session limit holds under concurrency on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases


async def test_parallel_creates_stop_at_the_free_plan_limit(
    client: httpx.AsyncClient, user: Any, settings: Any
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/sessions", json={"name": f"s{i}"}, headers=user.headers)
            for i in range(20)
        )
    )
    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 403]
    assert len(created) == settings.free_plan_sessions, [r.text for r in responses]
    assert len(refused) == 20 - settings.free_plan_sessions
    assert {r.json()["error"]["code"] for r in refused} == {"SESSION_LIMIT_REACHED"}
    listed = await client.get("/api/v1/sessions", headers=user.headers)
    assert len(listed.json()["data"]["sessions"]) == settings.free_plan_sessions
