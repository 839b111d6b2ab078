"""Usage reports at the edges of the calendar answer 400 or a report, never 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.mark.parametrize(
    "params",
    [
        {"startDate": "9999-12-31", "endDate": "9999-12-31"},
        {"startDate": "9999-12-20"},
        {"endDate": "0001-01-01"},
        {"startDate": "0001-01-01", "endDate": "0001-01-03"},
    ],
)
async def test_dates_at_the_ends_of_the_calendar(
    client: httpx.AsyncClient, user: Any, params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/analytics/usage", params=params, headers=user.headers)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    else:
        days = response.json()["data"]["daily"]
        assert days[-1]["date"] == params.get("endDate", days[-1]["date"])
