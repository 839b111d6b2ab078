"""Input a client will send to the read routes answers 400 in the envelope, never 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases

HUGE = str(2**63)


@pytest.mark.parametrize("since", ["2020-01-01", "2020-01-01T10:00:00"])
async def test_history_since_a_date_or_a_zoneless_time_is_read_as_utc(
    client: httpx.AsyncClient, user: Any, session_tools: Any, since: str
) -> None:
    created = await session_tools.create(user.headers)
    response = await client.get(
        "/api/v1/messages/history",
        params={"since": since, "until": "2999-01-01", "sessionId": created["sessionId"]},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["messages"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/messages/history",
        "/api/v1/chats",
        "/api/v1/chats/15550001111@s.whatsapp.net/messages",
        "/api/v1/contacts",
    ],
)
async def test_an_offset_past_64_bits_is_a_validation_error(
    client: httpx.AsyncClient, user: Any, session_tools: Any, path: str
) -> None:
    created = await session_tools.create(user.headers)
    response = await client.get(
        path, params={"offset": HUGE, "sessionId": created["sessionId"]}, headers=user.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
