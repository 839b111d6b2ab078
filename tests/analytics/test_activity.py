"""The activity log: what a user did and what happened to their sessions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases


async def test_the_activity_log_tells_a_users_story(
    client: httpx.AsyncClient, make_user: Any, session_tools: Any, analytics: Any
) -> None:
    user = await make_user()
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert login.status_code == 200
    created_key = await client.post(
        "/api/v1/auth/api-keys", json={"name": "CRM"}, headers=user.headers
    )
    assert created_key.status_code == 201
    key = created_key.json()["data"]
    revoked = await client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=user.headers)
    assert revoked.status_code == 200
    linked = await session_tools.link(user.headers)
    logout = await client.post(f"/api/v1/sessions/{linked.session_id}/logout", headers=user.headers)
    assert logout.status_code == 200
    await session_tools.wait_state(user.headers, linked.session_id, "logged_out")
    deleted = await client.delete(f"/api/v1/sessions/{linked.session_id}", headers=user.headers)
    assert deleted.status_code == 200

    logs = await analytics.activity(user.headers)
    assert [e["action"] for e in logs] == [
        "session.delete",
        "session.logged_out",
        "session.connected",
        "session.create",
        "apikey.revoke",
        "apikey.create",
        "user.login",
        "user.register",
    ]
    by_action = {e["action"]: e for e in logs}
    session_ref = {"sessionId": linked.session_id, "name": "Shop"}
    assert by_action["session.create"]["metadata"] == session_ref
    assert by_action["session.delete"]["metadata"] == session_ref
    assert by_action["session.connected"]["metadata"] == {
        "sessionId": linked.session_id,
        "phoneNumber": linked.phone,
    }
    assert by_action["session.logged_out"]["metadata"]["reason"] == "user_request"
    assert by_action["apikey.create"]["metadata"] == {"keyId": key["id"], "name": "CRM"}
    assert by_action["apikey.revoke"]["metadata"] == {"keyId": key["id"]}
    # What a person did carries their address; what the phone did does not.
    assert by_action["user.login"]["ip_address"] == "127.0.0.1"
    assert by_action["session.connected"]["ip_address"] is None
    assert all(e["created_at"].endswith("Z") for e in logs)
    # The key itself is shown once, at creation, and never again.
    assert key["key"] not in str(logs)

    assert [e["action"] for e in await analytics.activity(user.headers, limit=2)] == [
        "session.delete",
        "session.logged_out",
    ]
    for bad in ("0", "501", "many"):
        response = await client.get(
            "/api/v1/analytics/activity", params={"limit": bad}, headers=user.headers
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_nobody_sees_anothers_activity(
    client: httpx.AsyncClient, make_user: Any, analytics: Any
) -> None:
    alice, bob = await make_user(), await make_user()
    await client.post("/api/v1/auth/api-keys", json={"name": "Alice's"}, headers=alice.headers)
    assert [e["action"] for e in await analytics.activity(bob.headers)] == ["user.register"]
    assert [e["action"] for e in await analytics.activity(alice.headers)] == [
        "apikey.create",
        "user.register",
    ]
    assert (await client.get("/api/v1/analytics/activity")).status_code == 401
