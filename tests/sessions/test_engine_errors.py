"""Engine refusals become API errors by their kind, in one table: only what a
reconnect may cure answers SESSION_NOT_CONNECTED."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from wagate.engines import base
from wagate.errors import ErrorCode
from wagate.sessions.engine_calls import to_app_error


async def check(client: httpx.AsyncClient, api_key: str) -> httpx.Response:
    return await client.post(
        "/api/v1/contacts/check", json={"numbers": ["15550009999"]}, headers={"x-api-key": api_key}
    )


async def test_a_stopped_session_is_not_connected_and_a_logged_out_one_needs_a_link(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    assert (await check(client, linked.api_key)).status_code == 200

    stopped = await client.post(
        f"/api/v1/sessions/{linked.session_id}/disconnect", headers=user.headers
    )
    assert stopped.status_code == 200, stopped.text
    refused = await check(client, linked.api_key)
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        409,
        "SESSION_NOT_CONNECTED",
    )

    logged_out = await client.post(
        f"/api/v1/sessions/{linked.session_id}/logout", headers=user.headers
    )
    assert logged_out.status_code == 200, logged_out.text
    refused = await check(client, linked.api_key)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "CONFLICT")


async def test_an_unknown_group_is_not_found(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    response = await client.get(
        "/api/v1/groups/120363000000000001@g.us", headers={"x-api-key": linked.api_key}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (base.NotConnectedError("offline"), ErrorCode.SESSION_NOT_CONNECTED, 409),
        (base.NetworkError("unreachable"), ErrorCode.SERVICE_UNAVAILABLE, 503),
        (base.RateLimitedError("slow down", retry_after=2), ErrorCode.RATE_LIMIT_EXCEEDED, 429),
        (base.NotLinkedError("no device"), ErrorCode.CONFLICT, 409),
        (base.SessionBannedError("banned"), ErrorCode.CONFLICT, 409),
        (base.InvalidRecipientError("nobody"), ErrorCode.NOT_FOUND, 404),
        (base.UnsupportedError("cannot"), ErrorCode.VALIDATION_ERROR, 400),
        (base.MediaError("broken upload"), ErrorCode.ENGINE_ERROR, 502),
        (base.EngineError("odd"), ErrorCode.ENGINE_ERROR, 502),
    ],
)
def test_each_kind_of_engine_error_has_its_api_error(
    error: base.EngineError, code: ErrorCode, status: int
) -> None:
    mapped = to_app_error(error)
    assert (mapped.code, mapped.status, mapped.message) == (code, status, error.message)
    retry = {"Retry-After": "2"} if isinstance(error, base.RateLimitedError) else None
    assert mapped.headers == retry


def test_a_new_kind_is_mapped_by_its_nearest_known_parent() -> None:
    class StreamGoneError(base.NotConnectedError):
        pass

    class OddTemporaryError(base.EngineError):
        temporary = True

    assert to_app_error(StreamGoneError("gone")).code is ErrorCode.SESSION_NOT_CONNECTED
    assert to_app_error(OddTemporaryError("later")).code is ErrorCode.SERVICE_UNAVAILABLE
