"""Analytics tests: rate limits chosen per test, and reads of the analytics API
and the metrics."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

GENEROUS = "10000/minute"
LIMIT_NAMES = ("user", "session", "send", "history", "auth", "webhooks", "session_changes")


def limit_settings(chosen: dict[str, Any]) -> dict[str, object]:
    """Settings for a test. Naming any limit (``{"auth": "3/minute"}``) turns rate
    limits on, generous everywhere else, so a test sees only the limit it is
    about. Other keys are settings as they are."""
    chosen = dict(chosen)
    # API calls are written when a test flushes them, never halfway through a read.
    overrides: dict[str, object] = {"analytics_flush_seconds": 3600}
    if any(name in chosen for name in LIMIT_NAMES):
        overrides["rate_limit_enabled"] = True
        for name in LIMIT_NAMES:
            overrides[f"rate_limit_{name}"] = chosen.pop(name, GENEROUS)
    overrides.update(chosen)
    return overrides


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    """Parametrize indirectly with ``{"auth": "3/minute", ...}`` to choose limits."""
    return limit_settings(getattr(request, "param", {}))


class AnalyticsApi:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def usage(self, headers: dict[str, str], **params: str) -> dict[str, Any]:
        response = await self.client.get("/api/v1/analytics/usage", params=params, headers=headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def today(self, headers: dict[str, str]) -> dict[str, Any]:
        """Today's usage row (UTC)."""
        data = await self.usage(headers)
        row: dict[str, Any] = data["daily"][-1]
        assert row["date"] == data["endDate"]
        return row

    async def sessions(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/analytics/sessions", headers=headers)
        assert response.status_code == 200, response.text
        sessions: list[dict[str, Any]] = response.json()["data"]["sessions"]
        return sessions

    async def activity(self, headers: dict[str, str], limit: int = 50) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/analytics/activity", params={"limit": limit}, headers=headers
        )
        assert response.status_code == 200, response.text
        logs: list[dict[str, Any]] = response.json()["data"]["logs"]
        return logs

    async def metrics(self, headers: dict[str, str] | None = None) -> str:
        response = await self.client.get("/metrics", headers=headers or {})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return response.text

    @staticmethod
    def metric(text: str, name: str, **labels: str) -> float:
        """The value of one sample of a Prometheus exposition (0 if absent)."""
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0

    @staticmethod
    def assert_counted(response: httpx.Response, limit: int, remaining: int) -> None:
        assert response.status_code < 429, response.text
        assert response.headers["X-RateLimit-Limit"] == str(limit), response.headers
        assert response.headers["X-RateLimit-Remaining"] == str(remaining), response.headers
        reset = int(response.headers["X-RateLimit-Reset"])
        assert time.time() - 1 <= reset <= time.time() + 61

    @staticmethod
    def assert_refused(response: httpx.Response, limit: int) -> None:
        assert response.status_code == 429, response.text
        assert response.json() == {
            "success": False,
            "error": {
                "code": "RATE_LIMIT_EXCEEDED",
                "message": response.json()["error"]["message"],
            },
        }
        assert response.headers["X-RateLimit-Limit"] == str(limit)
        assert response.headers["X-RateLimit-Remaining"] == "0"
        retry_after = int(response.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()


@pytest.fixture
def analytics(client: httpx.AsyncClient) -> AnalyticsApi:
    return AnalyticsApi(client)
