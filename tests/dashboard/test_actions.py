"""What the dashboard's forms do: the same services as the API, seen through it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

Login = Callable[..., Awaitable[str]]
_KEY = re.compile(r"<code data-secret>([^<]+)</code>")


def _secret(html: str) -> str:
    match = _KEY.search(html)
    assert match, "no secret shown"
    return match.group(1)


async def _bearer(client: httpx.AsyncClient) -> dict[str, str]:
    token = await client.get("/dashboard/live-token", headers={"accept": "application/json"})
    return {"Authorization": f"Bearer {token.json()['token']}"}


async def _new_session(client: httpx.AsyncClient, token: str) -> tuple[str, str]:
    created = await client.post("/dashboard/sessions", data={"name": "Shop", "csrf_token": token})
    key = _secret(created.text)
    me = await client.get("/api/v1/sessions/me", headers={"x-api-key": key})
    return me.json()["data"]["sessionId"], key


async def test_rename_rotate_pair_logout_and_delete_a_session(
    client: httpx.AsyncClient, dashboard_login: Login, session_tools: Any
) -> None:
    token = await dashboard_login()
    session_id, old_key = await _new_session(client, token)
    base = f"/dashboard/sessions/{session_id}"

    renamed = await client.post(f"{base}/rename", data={"name": "Support", "csrf_token": token})
    assert renamed.status_code == 303
    grid = await client.get("/dashboard/sessions")
    assert "Renamed to “Support”" in grid.text

    rotated = await client.post(f"{base}/api-key", data={"csrf_token": token})
    new_key = _secret(rotated.text)
    assert new_key != old_key
    assert (await client.get("/api/v1/sessions/me", headers={"x-api-key": old_key})).is_error
    assert (await client.get("/api/v1/sessions/me", headers={"x-api-key": new_key})).is_success

    headers = await _bearer(client)
    await session_tools.wait_state(headers, session_id, "qr")
    pairing = await client.post(
        f"{base}/pairing-code",
        data={"phone_number": "+1 555 000 7777", "csrf_token": token},
        headers={"accept": "application/json"},
    )
    assert pairing.status_code == 200, pairing.text
    assert len(pairing.json()["code"]) == 8
    assert pairing.json()["phoneNumber"] == "15550007777"
    link_page = await client.post(
        f"{base}/pairing-code", data={"phone_number": "15550007777", "csrf_token": token}
    )
    assert 'class="pairing-code"' in link_page.text

    logged_out = await client.post(f"{base}/logout", data={"csrf_token": token})
    assert logged_out.status_code == 303
    assert (await session_tools.status(headers, session_id))["state"] == "logged_out"
    again = await client.post(
        f"{base}/link", data={"csrf_token": token}, headers={"accept": "application/json"}
    )
    assert again.json() == {"started": True, "state": "logged_out"}
    await session_tools.wait_state(headers, session_id, "qr")

    deleted = await client.post(f"{base}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get(f"{base}/chats")).status_code == 404
    activity = await client.get("/api/v1/analytics/activity", headers=headers)
    actions = [entry["action"] for entry in activity.json()["data"]["logs"]]
    assert {"user.login", "session.create", "session.delete"} <= set(actions)


@pytest.mark.private_urls
async def test_a_webhook_can_be_edited_turned_off_and_on_and_retried(
    client: httpx.AsyncClient, dashboard_login: Login
) -> None:
    token = await dashboard_login()
    session_id, _ = await _new_session(client, token)
    created = await client.post(
        "/dashboard/webhooks",
        data={
            "session_id": session_id,
            "url": "http://127.0.0.1:9/hook",
            "events": ["message.received"],
            "csrf_token": token,
        },
    )
    assert _secret(created.text).startswith("whsec_")
    headers = await _bearer(client)
    webhook = (await client.get("/api/v1/webhooks", headers=headers)).json()["data"]["webhooks"][0]
    assert webhook["send_secret_header"] is False
    base = f"/dashboard/webhooks/{webhook['id']}"

    edited = await client.post(
        f"{base}/edit",
        data={
            "url": "http://127.0.0.1:9/other",
            "events": ["message.status", "session.status"],
            "send_secret_header": "true",
            "csrf_token": token,
        },
    )
    assert edited.status_code == 303
    after = (await client.get("/api/v1/webhooks", headers=headers)).json()["data"]["webhooks"][0]
    assert after["events"] == ["message.status", "session.status"]
    assert after["url"].endswith("/other")
    assert after["send_secret_header"] is True

    await client.post(f"{base}/active", data={"active": "false", "csrf_token": token})
    page = await client.get(base)
    assert "Webhook disabled" in page.text
    refused = await client.post(
        f"{base}/test", data={"csrf_token": token}, headers={"referer": f"http://wagate.test{base}"}
    )
    assert refused.status_code == 303  # back to the page, with the reason on top
    assert "enable it to test it" in (await client.get(base)).text
    await client.post(f"{base}/active", data={"active": "true", "csrf_token": token})
    tested = await client.post(f"{base}/test", data={"csrf_token": token})
    assert tested.status_code == 303

    deliveries: list[dict[str, Any]] = []
    for _ in range(50):
        listing = await client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=headers)
        deliveries = listing.json()["data"]["deliveries"]
        if deliveries and deliveries[0]["attempts"] >= 1:
            break
        await _pause()
    assert deliveries, "the test event made no delivery"
    retried = await client.post(
        f"{base}/deliveries/{deliveries[0]['deliveryId']}/retry", data={"csrf_token": token}
    )
    assert retried.status_code == 303
    partial = await client.get(f"{base}/deliveries")
    assert "webhook.test" in partial.text

    rotated = await client.post(f"{base}/rotate-secret", data={"csrf_token": token})
    assert _secret(rotated.text).startswith("whsec_")
    gone = await client.post(f"{base}/delete", data={"csrf_token": token})
    assert gone.status_code == 303
    assert (await client.get(base)).status_code == 404


async def _pause() -> None:
    await asyncio.sleep(0.1)  # deliveries are attempted in the background: nothing to await


async def test_api_keys_are_shown_once_and_revoked(
    client: httpx.AsyncClient, dashboard_login: Login
) -> None:
    token = await dashboard_login()
    page = await client.post(
        "/dashboard/api-keys", data={"name": "CRM", "expires_in_days": "30", "csrf_token": token}
    )
    raw = _secret(page.text)
    assert raw.startswith("wgk_")
    assert (await client.get("/api/v1/auth/me", headers={"x-api-key": raw})).is_success
    assert raw not in (await client.get("/dashboard/api-keys")).text
    key_id = (await client.get("/api/v1/auth/api-keys", headers=await _bearer(client))).json()[
        "data"
    ]["keys"][0]["id"]
    revoked = await client.post(f"/dashboard/api-keys/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/auth/me", headers={"x-api-key": raw})).is_error


@pytest.mark.rate_limited
async def test_guessing_passwords_on_the_form_meets_the_api_limit(
    client: httpx.AsyncClient, csrf_of: Callable[[str], str]
) -> None:
    page = await client.get("/")
    token = csrf_of(page.text)
    statuses = []
    for _ in range(6):
        response = await client.post(
            "/login",
            data={"email": "admin@example.com", "password": "wrong-guess-1", "csrf_token": token},
            headers={"referer": "http://wagate.test/"},
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 303  # refused: back to the form with the reason
    assert "Too many attempts" in (await client.get("/")).text


async def test_disconnect_keeps_a_session_stopped_until_connect(
    client: httpx.AsyncClient, dashboard_login: Login, session_tools: Any
) -> None:
    token = await dashboard_login()
    headers = await _bearer(client)
    linked = await session_tools.link(headers)
    base = f"/dashboard/sessions/{linked.session_id}"

    stopped = await client.post(f"{base}/disconnect", data={"csrf_token": token})
    assert stopped.status_code == 303
    status = await session_tools.status(headers, linked.session_id)
    assert (status["state"], status["reason"]) == ("stopped", "user_request")
    card = await client.get(f"{base}/card")
    assert "Stopped" in card.text
    assert f'action="{base}/connect"' in card.text
    assert f'action="{base}/disconnect"' not in card.text

    connected = await client.post(f"{base}/connect", data={"csrf_token": token})
    assert connected.status_code == 303
    await session_tools.wait_state(headers, linked.session_id, "connected")
    card = await client.get(f"{base}/card")
    assert f'action="{base}/disconnect"' in card.text
