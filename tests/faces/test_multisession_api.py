"""The multi-session API's session management, field for field as its guide shows."""

from __future__ import annotations

import httpx
import pytest
from tests.faces.conftest import Guide

pytestmark = pytest.mark.both_databases


async def test_login_by_username_answers_the_guides_shape(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    alice = await guide.user("alice")
    assert alice.username == "alice"
    # The first administrator's username is "admin", as in the guide's example.
    admin = await guide.login("admin", "admin-password-1")
    assert admin.username == "admin"
    # Login by email works as well, on both faces.
    by_email = await client.post(
        "/api/login", json={"username": "alice@example.com", "password": alice.password}
    )
    assert by_email.status_code == 200
    native = await client.post(
        "/api/v1/auth/login", json={"email": "alice", "password": alice.password}
    )
    assert native.status_code == 200, native.text
    wrong = await client.post("/api/login", json={"username": "alice", "password": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "Unauthorized", "message": "Invalid email or password"}


async def test_sessions_are_a_bare_array_and_created_idle(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    user = await guide.user()
    assert await guide.sessions(user) == []
    business = await guide.create(user, name="Business Support")
    assert business == {
        "id": business["id"],
        "name": "Business Support",
        "phone": None,
        "connected": False,
        "logged_in": False,
        "state": "pending",
    }
    personal = await guide.create(user, name="Personal Account", phone="+62 822 6079 0996")
    assert personal["phone"] == "6282260790996"
    listed = await guide.sessions(user)
    assert [s["id"] for s in listed] == [business["id"], personal["id"]]
    # By id and by number, within the caller's sessions.
    by_id = await client.get(f"/api/sessions/{business['id']}", headers=user.headers)
    assert by_id.json() == business
    by_phone = await client.get("/api/sessions/6282260790996", headers=user.headers)
    assert by_phone.json()["id"] == personal["id"]
    renamed = await client.put(
        f"/api/sessions/{business['id']}/name", json={"name": "Sales"}, headers=user.headers
    )
    assert renamed.status_code == 200
    assert renamed.json()["session"]["name"] == "Sales"
    deleted = await client.delete(f"/api/sessions/{personal['id']}", headers=user.headers)
    assert deleted.json() == {"success": True, "message": "Session deleted"}
    assert [s["id"] for s in await guide.sessions(user)] == [business["id"]]


async def test_another_users_session_is_not_found_by_id_or_number(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    owner, other = await guide.user(), await guide.user()
    session = await guide.create(owner, name="Mine", phone="15550001111")
    for ref in (session["id"], "15550001111"):
        for method, path in (
            ("GET", ""),
            ("DELETE", ""),
            ("POST", "/connect"),
            ("POST", "/disconnect"),
        ):
            response = await client.request(
                method, f"/api/sessions/{ref}{path}", headers=other.headers
            )
            assert response.status_code == 404, (method, path, response.text)
            assert response.json() == {"error": "Not Found", "message": "Session not found"}
    assert (
        await client.get(f"/api/sessions/{session['id']}", headers=owner.headers)
    ).status_code == 200


async def test_a_sessions_webhook_url_is_one_multisession_webhook(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    # Loopback URLs (the tests' outbound policy allows them); nothing is sent to
    # them, since these sessions never connect.
    base = "http://127.0.0.1:9"
    user = await guide.user()
    session = await guide.create(user, name="Hooked", webhook_url=f"{base}/first")

    async def webhooks() -> list[tuple[str, str, list[str]]]:
        listed = await client.get("/api/v1/webhooks", headers=user.headers)
        return [(w["url"], w["format"], w["events"]) for w in listed.json()["data"]["webhooks"]]

    assert await webhooks() == [(f"{base}/first", "multisession", ["*"])]
    path = f"/api/sessions/{session['id']}/webhook"
    moved = await client.put(path, json={"webhook_url": f"{base}/second"}, headers=user.headers)
    assert moved.json()["webhook_url"] == f"{base}/second"
    assert await webhooks() == [(f"{base}/second", "multisession", ["*"])]
    # A native webhook on the same session is left alone by the face.
    native = await client.post(
        "/api/v1/webhooks",
        json={"sessionId": session["id"], "url": f"{base}/sak", "events": ["*"]},
        headers=user.headers,
    )
    assert native.status_code == 201
    removed = await client.put(path, json={"webhook_url": ""}, headers=user.headers)
    assert removed.json() == {"success": True, "message": "Webhook removed", "webhook_url": None}
    assert await webhooks() == [(f"{base}/sak", "sak", ["*"])]


@pytest.mark.parametrize("settings_overrides", [{}])  # the default outbound policy
async def test_a_webhook_url_the_policy_refuses_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    user = await guide.user()
    refused = await client.post(
        "/api/sessions",
        json={"name": "Hooked", "webhook_url": "http://127.0.0.1:9/hook"},
        headers=user.headers,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "Bad Request"
    assert refused.json()["message"].startswith("url:")
    # The session was not created either: the request is one unit of work.
    assert await guide.sessions(user) == []
