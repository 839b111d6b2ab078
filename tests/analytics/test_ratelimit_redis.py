"""With ``WAGATE_REDIS_URL``, gateway processes share their rate-limit counters."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from wagate.app import create_app
from wagate.config import Settings

REDIS_URL_ENV = "WAGATE_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_ENV)
    if not url:
        pytest.skip(f"{REDIS_URL_ENV} is not set: the shared-limit test needs a Redis URL")
    return url


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wagate.test") as http:
            yield http


async def test_two_instances_share_one_limit(
    redis_url: str, settings: Settings, tmp_path: Path, analytics: Any
) -> None:
    shared = {
        "rate_limit_enabled": True,
        "rate_limit_auth": "3/minute",
        "redis_url": redis_url,
        # Each run its own keys, so parallel runs and reruns start from zero.
        "rate_limit_key_prefix": f"wagate-test-{uuid.uuid4().hex}",
    }

    def instance(name: str) -> Settings:
        data_dir = tmp_path / name
        database_url = f"sqlite+aiosqlite:///{data_dir / 'wagate.db'}"
        base = settings.model_dump(exclude={"database_schema"})
        return Settings(**{**base, **shared, "data_dir": data_dir, "database_url": database_url})

    first, second = instance("first"), instance("second")
    login = {"email": "nobody@example.com", "password": "wrong-password"}
    async with running(first) as a, running(second) as b:
        for client, remaining in ((a, 2), (b, 1), (a, 0)):
            response = await client.post("/api/v1/auth/login", json=login)
            assert response.status_code == 401
            analytics.assert_counted(response, 3, remaining)
        # The allowance was used up across both instances: each refuses now.
        analytics.assert_refused(await b.post("/api/v1/auth/login", json=login), 3)
        analytics.assert_refused(await a.post("/api/v1/auth/login", json=login), 3)
