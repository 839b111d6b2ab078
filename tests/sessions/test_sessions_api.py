"""The session API of the SAK reference, and what lies beyond it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from wagate.events.models import OutboxEvent
from wagate.sessions.models import SessionTransition

pytestmark = pytest.mark.both_databases


async def test_create_answers_the_reference_shape_and_starts_linking(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    response = await client.post(
        "/api/v1/sessions", json={"name": "My Business WhatsApp"}, headers=user.headers
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["name"] == "My Business WhatsApp"
    assert data["status"] == "pending"
    assert data["message"] == "Scan QR code to connect"
    assert data["apiKey"].startswith("sak_")
    assert data["engine"] == "sandbox"

    qr = await session_tools.qr(user.headers, data["sessionId"])
    assert qr.startswith("2@")
    body = (
        await client.get(f"/api/v1/sessions/{data['sessionId']}/qr", headers=user.headers)
    ).json()
    assert body["data"]["message"] == "Scan this QR code with WhatsApp"
    assert body["data"]["qrImage"].startswith("data:image/png;base64,")

    listed = (await client.get("/api/v1/sessions", headers=user.headers)).json()["data"]["sessions"]
    assert [s["session_id"] for s in listed] == [data["sessionId"]]
    assert set(listed[0]) >= {
        "session_id",
        "name",
        "status",
        "phone_number",
        "last_connected_at",
        "created_at",
    }
    assert data["apiKey"] not in str(listed)


async def test_qr_as_png_and_svg_images(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    session = await session_tools.create(user.headers)
    await session_tools.qr(user.headers, session["sessionId"])
    png = await client.get(
        f"/api/v1/sessions/{session['sessionId']}/qr?format=png", headers=user.headers
    )
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    svg = await client.get(
        f"/api/v1/sessions/{session['sessionId']}/qr?format=svg", headers=user.headers
    )
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    bad = await client.get(
        f"/api/v1/sessions/{session['sessionId']}/qr?format=gif", headers=user.headers
    )
    assert bad.status_code == 400


async def test_link_by_qr_connects_with_the_phone_number(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    status = await session_tools.status(user.headers, linked.session_id)
    assert status["connected"] is True
    assert status["status"] == "connected"
    assert status["phoneNumber"] == linked.phone
    assert status["lastConnectedAt"].endswith("Z")
    qr = (await client.get(f"/api/v1/sessions/{linked.session_id}/qr", headers=user.headers)).json()
    assert qr["data"]["qrCode"] is None
    assert qr["data"]["message"] == "Session is already connected"


async def test_a_wrong_qr_links_nothing(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    session = await session_tools.create(user.headers)
    await session_tools.qr(user.headers, session["sessionId"])
    phone = await session_tools.phone(user.headers)
    response = await client.post(
        f"/sandbox/v1/phones/{phone}/link", json={"qr": "2@not-a-real-code"}, headers=user.headers
    )
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert (await session_tools.status(user.headers, session["sessionId"]))["state"] == "qr"


async def test_link_by_pairing_code(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    session = await session_tools.create(user.headers)
    phone = await session_tools.phone(user.headers)
    response = await client.post(
        f"/api/v1/sessions/{session['sessionId']}/pairing-code",
        json={"phoneNumber": f"+{phone[:1]} {phone[1:]}"},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    code = response.json()["data"]["code"]
    assert len(code) == 8
    await session_tools.wait_state(user.headers, session["sessionId"], "pairing_code")

    other = await session_tools.phone(user.headers)
    refused = await client.post(
        f"/sandbox/v1/phones/{other}/pair", json={"code": code}, headers=user.headers
    )
    assert refused.status_code == 400

    paired = await client.post(
        f"/sandbox/v1/phones/{phone}/pair", json={"code": code}, headers=user.headers
    )
    assert paired.status_code == 200, paired.text
    status = await session_tools.wait_state(user.headers, session["sessionId"], "connected")
    assert status["phoneNumber"] == phone


async def test_pairing_code_needs_a_phone_number(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    session = await session_tools.create(user.headers)
    response = await client.post(
        f"/api/v1/sessions/{session['sessionId']}/pairing-code",
        json={"phoneNumber": "call me maybe"},
        headers=user.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "phoneNumber" in response.json()["error"]["message"]


async def test_every_transition_is_stored_and_written_to_the_outbox(
    app: FastAPI, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    async with app.state.database.sessionmaker() as db:
        transitions = (
            (
                await db.execute(
                    select(SessionTransition)
                    .where(SessionTransition.session_id == uuid.UUID(linked.session_id))
                    .order_by(SessionTransition.created_at)
                )
            )
            .scalars()
            .all()
        )
        events = (await db.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars().all()
    assert [(t.from_state, t.to_state) for t in transitions] == [
        (None, "pending"),
        ("pending", "qr"),
        ("qr", "connected"),
    ]
    status_events = [e.payload for e in events if e.type == "session.status"]
    assert [e["state"] for e in status_events] == ["pending", "qr", "connected"]
    assert all(e["sessionId"] == linked.session_id for e in status_events)
    assert len({e["id"] for e in status_events}) == 3
    connected = [e.payload for e in events if e.type == "session.connected"]
    assert connected[0]["phoneNumber"] == linked.phone
    assert any(e.type == "session.qr" for e in events)


async def test_the_free_plan_limits_sessions(
    client: httpx.AsyncClient, user: Any, settings: Any, session_tools: Any
) -> None:
    for index in range(settings.free_plan_sessions):
        await session_tools.create(user.headers, f"s{index}")
    response = await client.post(
        "/api/v1/sessions", json={"name": "one more"}, headers=user.headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "SESSION_LIMIT_REACHED"


async def test_admins_are_not_limited(client: httpx.AsyncClient, settings: Any) -> None:
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    headers = {"Authorization": f"Bearer {login.json()['data']['token']}"}
    for index in range(settings.free_plan_sessions + 1):
        response = await client.post(
            "/api/v1/sessions", json={"name": f"a{index}"}, headers=headers
        )
        assert response.status_code == 201


async def test_another_users_session_is_not_found(
    client: httpx.AsyncClient, make_user: Any, session_tools: Any
) -> None:
    alice = await make_user()
    bob = await make_user()
    session = await session_tools.create(alice.headers)
    sid = session["sessionId"]
    for method, path in [
        ("GET", f"/api/v1/sessions/{sid}/status"),
        ("GET", f"/api/v1/sessions/{sid}/qr"),
        ("POST", f"/api/v1/sessions/{sid}/restart"),
        ("POST", f"/api/v1/sessions/{sid}/logout"),
        ("POST", f"/api/v1/sessions/{sid}/api-key"),
        ("DELETE", f"/api/v1/sessions/{sid}"),
    ]:
        response = await client.request(method, path, headers=bob.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "NOT_FOUND"
    renamed = await client.patch(f"/api/v1/sessions/{sid}", json={"name": "x"}, headers=bob.headers)
    assert renamed.status_code == 404
    assert (await client.get("/api/v1/sessions", headers=bob.headers)).json()["data"][
        "sessions"
    ] == []
    assert (await session_tools.status(alice.headers, sid))["name"] == "Shop"
    garbage = await client.get("/api/v1/sessions/not-a-uuid/status", headers=alice.headers)
    assert garbage.status_code == 404


async def test_rename_and_rotate_the_session_key(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    session = await session_tools.create(user.headers)
    sid = session["sessionId"]
    renamed = await client.patch(
        f"/api/v1/sessions/{sid}", json={"name": "Sales"}, headers=user.headers
    )
    assert renamed.json()["data"]["name"] == "Sales"

    old_key = session["apiKey"]
    assert (
        await client.get("/api/v1/sessions/me", headers={"x-api-key": old_key})
    ).status_code == 200
    rotated = await client.post(f"/api/v1/sessions/{sid}/api-key", headers=user.headers)
    new_key = rotated.json()["data"]["apiKey"]
    assert new_key != old_key
    old = await client.get("/api/v1/sessions/me", headers={"x-api-key": old_key})
    assert old.status_code == 403
    assert old.json()["error"]["code"] == "INVALID_API_KEY"
    new = await client.get("/api/v1/sessions/me", headers={"x-api-key": new_key})
    assert new.json()["data"]["sessionId"] == sid


async def test_api_key_modes_of_the_reference(
    client: httpx.AsyncClient, make_user: Any, session_tools: Any
) -> None:
    alice = await make_user()
    bob = await make_user()
    session = await session_tools.create(alice.headers)
    sid = session["sessionId"]
    user_key = (
        await client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=alice.headers)
    ).json()["data"]["key"]
    bob_key = (
        await client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=bob.headers)
    ).json()["data"]["key"]

    by_header = await client.get(
        "/api/v1/sessions/me", headers={"x-api-key": user_key, "x-session-id": sid}
    )
    assert by_header.json()["data"]["sessionId"] == sid
    by_query = await client.get(
        f"/api/v1/sessions/me?sessionId={sid}", headers={"x-api-key": user_key}
    )
    assert by_query.json()["data"]["sessionId"] == sid

    missing = await client.get("/api/v1/sessions/me", headers={"x-api-key": user_key})
    assert missing.status_code == 400
    assert "x-session-id" in missing.json()["error"]["message"]
    foreign = await client.get(
        "/api/v1/sessions/me", headers={"x-api-key": bob_key, "x-session-id": sid}
    )
    assert foreign.status_code == 404
    no_key = await client.get("/api/v1/sessions/me")
    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "NO_API_KEY"


async def test_delete_logs_out_and_removes_the_session(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    response = await client.delete(f"/api/v1/sessions/{linked.session_id}", headers=user.headers)
    assert response.json() == {"success": True, "message": "Session disconnected and deleted"}
    gone = await client.get(f"/api/v1/sessions/{linked.session_id}/status", headers=user.headers)
    assert gone.status_code == 404
    phones = (await client.get("/sandbox/v1/phones", headers=user.headers)).json()["data"]
    [phone] = [p for p in phones["phones"] if p["number"] == linked.phone]
    assert linked.session_id not in str(phone.get("linkedSessions", []))
