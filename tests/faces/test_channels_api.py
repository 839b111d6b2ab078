"""The notification-channel face's REST routes as the seed's clients call them:
shapes field for field, the state map, tenancy, and every failure in the
face's ``{ok: false, …}`` shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.dashboard.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.faces.channels_tools import PREFIX, Channels, channel_error
from tests.live.test_events_stream import SLOW_QR
from tests.messages.test_send_limits import media_server  # noqa: F401  (a fixture)

pytestmark = pytest.mark.both_databases


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**SLOW_QR, "allow_private_urls": True}


@pytest.fixture
def channels(client: httpx.AsyncClient, wait_until: Callable[..., Awaitable[None]]) -> Channels:
    return Channels(client, wait_until)


async def test_create_list_and_status_answer_the_seeds_shapes(
    client: httpx.AsyncClient, user: Any, channels: Channels
) -> None:
    created = await channels.create(user.headers, phone="1234567890")
    channel_id = created["channelId"]
    status = await channels.status(user.headers, channel_id)
    assert status["name"] == "My WhatsApp Business"
    assert status["status"] == "inactive" and status["isActive"] is False

    listed = await client.get(PREFIX, headers=user.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["ok"] is True
    [channel] = body["payload"]
    assert channel == {
        **created,
        "lastStatusUpdate": status["lastStatusUpdate"],
        "isActive": False,
    }
    # The channel is a session of the core: the native face sees it, idle.
    native = await client.get(f"/api/v1/sessions/{channel_id}/status", headers=user.headers)
    assert native.json()["data"]["state"] == "pending"


async def test_qr_link_send_and_disconnect(
    client: httpx.AsyncClient, user: Any, channels: Channels, session_tools: Any
) -> None:
    created = await channels.create(user.headers)
    channel_id = created["channelId"]
    await channels.connect(user.headers, channel_id)
    code = await channels.qr_from_core(user.headers, channel_id)
    phone = await session_tools.phone(user.headers)
    scanned = await client.post(
        f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=user.headers
    )
    assert scanned.status_code == 200, scanned.text
    active = await channels.wait_status(user.headers, channel_id, "active")
    assert active["isActive"] is True

    customer = await session_tools.phone(user.headers)
    sent = await channels.send(
        user.headers, channel_id, f"{customer}@s.whatsapp.net", "Hello from automated WhatsApp!"
    )
    inbox = await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
    [received] = inbox.json()["data"]["messages"]
    assert received["text"] == "Hello from automated WhatsApp!"
    assert received["messageId"] == sent["payload"]["messageId"]

    # Connecting a connected channel changes nothing.
    again = await client.post(f"{PREFIX}/{channel_id}/connect", json={}, headers=user.headers)
    assert again.json() == {
        "ok": True,
        "message": "Channel is already connected",
        "channelId": channel_id,
        "status": "active",
    }

    stopped = await client.post(f"{PREFIX}/{channel_id}/disconnect", headers=user.headers)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json() == {
        "ok": True,
        "message": "Channel disconnected",
        "channelId": channel_id,
        "status": "inactive",
    }
    assert (await channels.status(user.headers, channel_id))["status"] == "inactive"
    refused = await client.post(
        f"{PREFIX}/{channel_id}/send",
        json={"to": customer, "message": "still there?", "type": "text"},
        headers=user.headers,
    )
    assert channel_error(refused, 409)["error"] == "SESSION_NOT_CONNECTED"

    # Connecting again resumes the linked device.
    await channels.connect(user.headers, channel_id)
    await channels.wait_status(user.headers, channel_id, "active")


async def test_pairing_code_link(
    client: httpx.AsyncClient, user: Any, channels: Channels, session_tools: Any
) -> None:
    phone = await session_tools.phone(user.headers)
    created = await channels.create(user.headers, name="Headless", phone=phone)
    channel_id = created["channelId"]
    await channels.connect(user.headers, channel_id, phone=phone)
    await channels.wait_status(user.headers, channel_id, "pairing_code_ready")
    # The code is also one request away (the seed's route 8), for the same phone.
    answer = await client.post(
        f"{PREFIX}/{channel_id}/pairing-code", json={"phoneNumber": phone}, headers=user.headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"ok", "message", "payload"} and body["ok"] is True
    assert set(body["payload"]) == {"channelId", "code", "phoneNumber"}
    assert body["payload"]["phoneNumber"] == phone
    paired = await client.post(
        f"/sandbox/v1/phones/{phone}/pair",
        json={"code": body["payload"]["code"]},
        headers=user.headers,
    )
    assert paired.status_code == 200, paired.text
    await channels.wait_status(user.headers, channel_id, "active")


async def test_another_users_channel_is_this_faces_404(
    client: httpx.AsyncClient, make_user: Any, channels: Channels
) -> None:
    owner, stranger = await make_user(), await make_user()
    channel_id = (await channels.create(owner.headers))["channelId"]
    other_key = (
        await client.post("/api/v1/sessions", json={"name": "Theirs"}, headers=stranger.headers)
    ).json()["data"]["apiKey"]
    for headers in (stranger.headers, {"x-api-key": other_key}):
        for method, path, body in (
            ("GET", "status", None),
            ("POST", "connect", {}),
            ("POST", "disconnect", None),
            ("POST", "send", {"to": "15550001111", "message": "hi", "type": "text"}),
            ("POST", "pairing-code", {"phoneNumber": "15550001111"}),
        ):
            response = await client.request(
                method, f"{PREFIX}/{channel_id}/{path}", json=body, headers=headers
            )
            found = channel_error(response, 404)
            assert found == {"ok": False, "message": "Channel not found", "error": "NOT_FOUND"}
    listed = await client.get(PREFIX, headers=stranger.headers)
    assert channel_id not in {c["channelId"] for c in listed.json()["payload"]}
    assert (await channels.status(owner.headers, channel_id))["status"] == "inactive"


async def test_failures_in_this_faces_shape(
    client: httpx.AsyncClient, user: Any, channels: Channels
) -> None:
    assert channel_error(await client.get(PREFIX), 401)["error"] == "NO_TOKEN"
    bad_key = await client.get(PREFIX, headers={"x-api-key": "wgk_nope"})
    assert channel_error(bad_key, 403)["error"] == "INVALID_API_KEY"
    no_name = await client.post(PREFIX, json={}, headers=user.headers)
    assert channel_error(no_name, 400)["message"] == "name: Field required"
    bad_phone = await client.post(
        PREFIX, json={"name": "x", "phoneNumber": "not a phone"}, headers=user.headers
    )
    assert channel_error(bad_phone, 400)["message"].startswith("phone")
    channel_id = (await channels.create(user.headers))["channelId"]
    assert channel_error(await client.get(f"{PREFIX}/{channel_id}/nope"), 404)["error"] == (
        "NOT_FOUND"
    )
    wrong_method = await client.get(f"{PREFIX}/{channel_id}/connect", headers=user.headers)
    assert channel_error(wrong_method, 405)["error"] == "METHOD_NOT_ALLOWED"
    wrong_type = await client.post(
        f"{PREFIX}/{channel_id}/send",
        json={"to": "15550001111", "message": "hi", "type": "image"},
        headers=user.headers,
    )
    assert channel_error(wrong_type, 400)["message"].startswith("type:")
    idle = await client.post(
        f"{PREFIX}/{channel_id}/send",
        json={"to": "15550001111", "message": "hi", "type": "text"},
        headers=user.headers,
    )
    assert channel_error(idle, 409)["error"] == "SESSION_NOT_CONNECTED"
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    too_big = await client.post(
        PREFIX, content=big, headers={**user.headers, "content-type": "application/json"}
    )
    assert channel_error(too_big, 413)["error"] == "PAYLOAD_TOO_LARGE"
    # Nothing above created anything, and the idle channel sent nothing.
    listed = (await client.get(PREFIX, headers=user.headers)).json()["payload"]
    assert [c["channelId"] for c in listed] == [channel_id]
    history = await client.get(
        "/api/v1/messages/history", params={"sessionId": channel_id}, headers=user.headers
    )
    assert history.json()["data"]["messages"] == []


async def test_a_crash_is_500_in_this_faces_shape(app: FastAPI) -> None:
    @app.get(f"{PREFIX}/boom/crash")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        crashed = await client.get(f"{PREFIX}/boom/crash")
    body = channel_error(crashed, 500)
    assert body["error"] == "INTERNAL_ERROR"
    assert "secret internals" not in crashed.text


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"rate_limit_enabled": True, "rate_limit_user": "2/minute"}

    async def test_the_limit_answers_429_in_this_faces_shape(
        self, client: httpx.AsyncClient, user: Any
    ) -> None:
        for _ in range(2):
            assert (await client.get(PREFIX, headers=user.headers)).status_code == 200
        limited = await client.get(PREFIX, headers=user.headers)
        assert channel_error(limited, 429)["error"] == "RATE_LIMIT_EXCEEDED"
        assert int(limited.headers["retry-after"]) >= 1


async def test_media_by_url_goes_through_the_ssrf_guard(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    media_server: str,  # noqa: F811  (the fixture imported above)
) -> None:
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)
    sent = await client.post(
        f"{PREFIX}/{linked.session_id}/send-media",
        json={
            "to": f"{customer}@s.whatsapp.net",
            "mediaType": "image",
            "mediaUrl": f"{media_server}/logo.png",
            "caption": "Check out this image!",
        },
        headers=user.headers,
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["ok"] is True and body["message"] == "Message sent"
    assert body["payload"] == {
        "messageId": body["payload"]["messageId"],
        "to": f"{customer}@s.whatsapp.net",
        "type": "image",
        "status": "sent",
    }
    inbox = await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
    [received] = inbox.json()["data"]["messages"]
    assert received["type"] == "image" and received["caption"] == "Check out this image!"

    # A redirect to the cloud metadata address is refused even with private URLs allowed.
    refused = await client.post(
        f"{PREFIX}/{linked.session_id}/send-media",
        json={"to": customer, "mediaType": "image", "mediaUrl": f"{media_server}/redirect"},
        headers=user.headers,
    )
    assert "mediaUrl" in channel_error(refused, 400)["message"]
    not_an_image = await client.post(
        f"{PREFIX}/{linked.session_id}/send-media",
        json={"to": customer, "mediaType": "sticker", "mediaUrl": f"{media_server}/logo.png"},
        headers=user.headers,
    )
    assert channel_error(not_an_image, 400)["message"].startswith("mediaType:")


async def test_the_dashboards_cookie_works_for_same_origin_json_requests_only(
    client: httpx.AsyncClient, dashboard_login: Any
) -> None:
    await dashboard_login()
    own = {"Origin": "http://wagate.test"}
    listed = await client.get(PREFIX)
    assert listed.status_code == 200, listed.text
    created = await client.post(
        PREFIX,
        json={"name": "From the example page"},
        headers={**own, "Sec-Fetch-Site": "same-origin"},
    )
    assert created.status_code == 201, created.text
    channel_id = created.json()["payload"]["channelId"]
    connected = await client.post(f"{PREFIX}/{channel_id}/connect", json={}, headers=own)
    assert connected.status_code == 200, connected.text

    for refused in (
        await client.post(PREFIX, json={"name": "x"}, headers={"Origin": "http://evil.test"}),
        await client.post(PREFIX, json={"name": "x"}),  # no Origin: not a browser's fetch
        await client.post(
            PREFIX, json={"name": "x"}, headers={**own, "Sec-Fetch-Site": "cross-site"}
        ),
        await client.post(  # a form, which any site can make a browser send
            PREFIX,
            content=b"name=x",
            headers={**own, "content-type": "application/x-www-form-urlencoded"},
        ),
        await client.get(PREFIX, headers={"Sec-Fetch-Site": "cross-site"}),
    ):
        assert channel_error(refused, 401)["error"] == "NO_TOKEN"
    # The cookie is this face's only: the other faces still want their credentials.
    assert (await client.get("/api/sessions", headers=own)).status_code == 401
    assert (await client.get("/api/v1/sessions", headers=own)).status_code == 401
    names = [c["name"] for c in (await client.get(PREFIX)).json()["payload"]]
    assert names == ["From the example page"]


async def test_pairing_after_a_disconnect_and_its_failures(
    client: httpx.AsyncClient, channels: Channels, session_tools: Any
) -> None:
    # The administrator, who may take the sandbox network down.
    login = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    user = SimpleNamespace(headers={"Authorization": f"Bearer {login.json()['data']['token']}"})
    phone = await session_tools.phone(user.headers)
    channel_id = (await channels.create(user.headers, phone=phone))["channelId"]
    await channels.connect(user.headers, channel_id)
    await channels.wait_status(user.headers, channel_id, "qr_ready")
    stopped = await client.post(f"{PREFIX}/{channel_id}/disconnect", headers=user.headers)
    assert stopped.json()["status"] == "inactive"

    bad = await client.post(
        f"{PREFIX}/{channel_id}/connect", json={"phoneNumber": "call me"}, headers=user.headers
    )
    assert channel_error(bad, 400)["message"].startswith("phoneNumber:")
    assert (await channels.status(user.headers, channel_id))["status"] == "inactive"
    await session_tools.fault(user.headers, kind="network_down")
    down = await client.post(
        f"{PREFIX}/{channel_id}/connect", json={"phoneNumber": phone}, headers=user.headers
    )
    assert channel_error(down, 503)["error"] == "SERVICE_UNAVAILABLE"
    await session_tools.fault(user.headers, kind="network_up")

    # A channel disconnected on request links by pairing code as a new one does.
    await channels.connect(user.headers, channel_id, phone=phone)
    await channels.wait_status(user.headers, channel_id, "pairing_code_ready")
