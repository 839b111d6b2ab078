"""What every face gets from the core: one credential resolver (HTTP and
WebSocket, the same checks), usage accounting, CORS, and JSON bodies sent
without a JSON content type; and the sessions shared between faces."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.faces.conftest import Guide
from tests.live.test_events_stream import receive
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from wagate.auth.models import User


async def assert_socket_refused(url: str, error: str, code: int) -> None:
    """The guide's error message, then the close code."""
    async with connect(url) as ws:
        refused = json.loads(await ws.recv())
        assert refused == {"type": "error", "data": {"error": error}}
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def test_a_json_body_needs_no_json_content_type(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    user = await guide.user()
    # `curl -d '{...}'` sends a form type; some clients send none.
    for content_type in ("application/x-www-form-urlencoded", None):
        headers = dict(user.headers)
        if content_type:
            headers["content-type"] = content_type
        created = await client.post(
            "/api/sessions", content=b'{"name": "Curl Session"}', headers=headers
        )
        assert created.status_code == 201, (content_type, created.text)
        assert created.json()["name"] == "Curl Session"
    # The native face too (the migration response's own curl example).
    login = await client.post(
        "/api/v1/auth/login",
        content=json.dumps({"email": "admin", "password": "admin-password-1"}).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert login.status_code == 200, login.text
    # A real form is still a form, and not JSON: refused as invalid.
    form = await client.post(
        "/api/sessions",
        content=b"name=Form",
        headers={**user.headers, "content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 400


async def test_session_keys_act_for_their_own_session_only(
    client: httpx.AsyncClient, guide: Guide, user: Any, session_tools: Any
) -> None:
    mine = await session_tools.create(user.headers, name="Mine")
    other = await session_tools.create(user.headers, name="Other")
    key = {"x-api-key": mine["apiKey"]}
    listed = await client.get("/api/sessions", headers=key)
    assert [s["id"] for s in listed.json()] == [mine["sessionId"]]
    assert (await client.get(f"/api/sessions/{mine['sessionId']}", headers=key)).status_code == 200
    refused = await client.get(f"/api/sessions/{other['sessionId']}", headers=key)
    assert refused.status_code == 403
    assert refused.json()["error"] == "Forbidden"
    # A user key acts for every session of its user.
    created = await client.post(
        "/api/v1/auth/api-keys", json={"name": "software"}, headers=user.headers
    )
    user_key = {"x-api-key": created.json()["data"]["key"]}
    both = await client.get("/api/sessions", headers=user_key)
    assert {s["id"] for s in both.json()} == {mine["sessionId"], other["sessionId"]}


async def test_a_deactivated_user_loses_every_credential_on_every_face(
    client: httpx.AsyncClient, app: FastAPI, user: Any, session_tools: Any, ws_base: str
) -> None:
    created = await session_tools.create(user.headers)
    session_id = created["sessionId"]
    issued = await client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=user.headers)
    user_key = issued.json()["data"]["key"]
    credentials = [
        user.headers,
        {"x-api-key": user_key},
        {"x-api-key": created["apiKey"]},
    ]
    for headers in credentials:
        answer = await client.get(f"/api/sessions/{session_id}", headers=headers)
        assert answer.status_code == 200, answer.text

    async with app.state.database.transaction() as db:
        account = await db.get(User, uuid.UUID(user.id))
        assert account is not None
        account.is_active = False

    for headers in credentials:
        face = await client.get(f"/api/sessions/{session_id}", headers=headers)
        assert face.status_code == 401, (headers, face.text)
        native = await client.get("/api/v1/sessions/me", headers={**headers})
        assert native.status_code in (401, 403), native.text
    await assert_socket_refused(
        f"{ws_base}/api/ws/{session_id}?token={user.token}", "Invalid token", 4401
    )


async def test_the_websocket_is_scoped_to_the_callers_sessions(guide: Guide, ws_base: str) -> None:
    owner, other = await guide.user(), await guide.user()
    session = await guide.create(owner, name="Mine", phone="15550004444")
    for ref in (session["id"], "15550004444"):
        url = f"{ws_base}/api/ws/{ref}?token={other.token}"
        await assert_socket_refused(url, "Session not found", 4404)


async def test_face_calls_on_a_session_count_as_its_api_calls(
    client: httpx.AsyncClient, app: FastAPI, guide: Guide
) -> None:
    user = await guide.user()
    session = await guide.create(user, name="Counted")
    for _ in range(3):
        assert (
            await client.get(f"/api/sessions/{session['id']}", headers=user.headers)
        ).status_code == 200
    await app.state.api_calls.flush()
    usage = await client.get("/api/v1/analytics/usage", headers=user.headers)
    assert usage.json()["data"]["daily"][-1]["api_calls"] == 3


async def test_sessions_are_shared_between_faces(
    client: httpx.AsyncClient, guide: Guide, session_tools: Any
) -> None:
    user = await guide.user()
    # Made through /api: seen, renamed and deleted through /api/v1.
    made_here = await guide.create(user, name="From the guide face", phone="15550005555")
    native = await client.get("/api/v1/sessions", headers=user.headers)
    [listed] = native.json()["data"]["sessions"]
    assert listed["session_id"] == made_here["id"]
    assert listed["state"] == "pending"
    status = await session_tools.status(user.headers, made_here["id"])
    assert status["name"] == "From the guide face"
    # Made through /api/v1 and linked: seen and addressed by number through /api.
    linked = await session_tools.link(user.headers, name="From the native face")
    by_phone = await client.get(f"/api/sessions/{linked.phone}", headers=user.headers)
    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.json()["id"] == linked.session_id
    assert by_phone.json()["connected"] is True
    sent = await client.post(
        "/api/send",
        json={"phone": linked.phone, "recipient": "15550006666", "message": "cross-face"},
        headers=user.headers,
    )
    assert sent.status_code == 200, sent.text
    history = await client.get("/api/v1/messages/history", headers={"x-api-key": linked.api_key})
    assert [m["text"] for m in history.json()["data"]["messages"]] == ["cross-face"]
    removed = await client.delete(f"/api/v1/sessions/{made_here['id']}", headers=user.headers)
    assert removed.status_code == 200
    assert [s["id"] for s in await guide.sessions(user)] == [linked.session_id]


class TestCors:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"cors_origins": "https://app.example.com"}

    async def test_allowed_origins_get_cors_headers(self, client: httpx.AsyncClient) -> None:
        preflight = await client.options(
            "/api/sessions",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        # Errors carry them too, so a browser can read the error.
        error = await client.get("/api/sessions", headers={"Origin": "https://app.example.com"})
        assert error.status_code == 401
        assert error.headers["access-control-allow-origin"] == "https://app.example.com"
        stranger = await client.get("/api/sessions", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/sessions", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize(
    "settings_overrides", [{"sandbox_qr_interval": 0.2, "sandbox_qr_max_rotations": 2}]
)
async def test_the_qr_socket_says_when_the_codes_ran_out(
    client: httpx.AsyncClient, guide: Guide, ws_base: str
) -> None:
    user = await guide.user()
    session = await guide.create(user, name="Never scanned")
    async with connect(f"{ws_base}/api/ws/{session['id']}?token={user.token}") as ws:
        connected = await client.post(
            f"/api/sessions/{session['id']}/connect", headers=user.headers
        )
        assert connected.status_code == 200
        kinds: list[str] = []
        while not kinds or kinds[-1] == "qr":
            message = await receive(ws)
            kinds.append(message["type"])
        assert message == {
            "type": "error",
            "data": {"error": "QR code timed out; connect again for a new one"},
        }
    assert kinds.count("qr") == 2
    [listed] = await guide.sessions(user)
    assert (listed["connected"], listed["logged_in"]) == (False, False)


async def test_the_dashboard_and_the_guide_face_share_sessions(
    client: httpx.AsyncClient, guide: Guide, dashboard_login: Any
) -> None:
    csrf = await dashboard_login()
    made_on_page = await client.post(
        "/dashboard/sessions", data={"name": "Made on the page", "csrf_token": csrf}
    )
    assert made_on_page.status_code == 200, made_on_page.text
    admin = await guide.login("admin", "admin-password-1")
    [listed] = await guide.sessions(admin)
    assert listed["name"] == "Made on the page"
    made_here = await guide.create(admin, name="Made through the API")
    grid = await client.get("/dashboard/sessions")
    assert "Made through the API" in grid.text
    card = await client.get(f"/dashboard/sessions/{made_here['id']}/card")
    assert card.status_code == 200
    assert "Made through the API" in card.text
