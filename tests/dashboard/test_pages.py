"""The dashboard through HTTP, as a browser without JavaScript sees it: the login
cookie, CSRF on every form, tenancy, and every page rendering."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

ADMIN_EMAIL = "admin@example.com"
Login = Callable[..., Awaitable[str]]
CsrfOf = Callable[[str], str]
_KEY = re.compile(r"<code data-secret>([^<]+)</code>")


def _cookie_header(response: httpx.Response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert headers, f"no {name} cookie was set"
    return headers[-1]


async def test_login_sets_an_httponly_lax_cookie_and_logout_clears_it(
    client: httpx.AsyncClient, csrf_of: CsrfOf
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "Log in" in page.text
    login = await client.post(
        "/login",
        data={
            "email": ADMIN_EMAIL,
            "password": "admin-password-1",
            "csrf_token": csrf_of(page.text),
            "next": "/dashboard/webhooks",
        },
    )
    assert login.status_code == 303
    assert login.headers["location"] == "/dashboard/webhooks"
    cookie = _cookie_header(login, "wagate_session").lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie

    sessions = await client.get("/dashboard/sessions")
    assert sessions.status_code == 200
    assert ADMIN_EMAIL in sessions.text or "Administrator" in sessions.text
    assert "content-security-policy" in sessions.headers

    logout = await client.post("/logout", data={"csrf_token": csrf_of(sessions.text)})
    assert logout.status_code == 303
    cleared = _cookie_header(logout, "wagate_session").lower()
    assert "max-age=0" in cleared or "expires=thu, 01 jan 1970" in cleared
    after = await client.get("/dashboard/sessions")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/?next=")


async def test_a_wrong_password_shows_the_form_again(
    client: httpx.AsyncClient, csrf_of: CsrfOf
) -> None:
    page = await client.get("/")
    response = await client.post(
        "/login",
        data={"email": ADMIN_EMAIL, "password": "nope-nope-1", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 401
    assert "Invalid email or password" in response.text
    assert "wagate_session" not in response.headers.get("set-cookie", "")


async def test_a_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, dashboard_login: Login
) -> None:
    token = await dashboard_login()
    for data in ({"name": "Forged"}, {"name": "Forged", "csrf_token": "0" * 64}):
        refused = await client.post("/dashboard/sessions", data=data)
        assert refused.status_code == 403
        assert "form has expired" in refused.text
    listing = await client.get("/dashboard/sessions")
    assert "Forged" not in listing.text
    # A cross-site page cannot log anyone in either: the login form has its token too.
    fresh = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with fresh:
        login = await fresh.post(
            "/login", data={"email": ADMIN_EMAIL, "password": "admin-password-1"}
        )
        assert login.status_code == 403
    accepted = await client.post("/dashboard/sessions", data={"name": "Real", "csrf_token": token})
    assert accepted.status_code == 200
    assert "Real" in accepted.text


async def test_another_users_session_is_a_404_page(
    client: httpx.AsyncClient, dashboard_login: Login, make_user: Any
) -> None:
    owner = await make_user()
    created = await client.post(
        "/api/v1/sessions", json={"name": "Secret shop"}, headers=owner.headers
    )
    session_id = created.json()["data"]["sessionId"]

    intruder = await make_user()
    token = await dashboard_login(intruder.email, intruder.password)
    grid = await client.get("/dashboard/sessions")
    assert "Secret shop" not in grid.text
    for path in (
        f"/dashboard/sessions/{session_id}/chats",
        f"/dashboard/sessions/{session_id}/chats/15550009999",
        f"/dashboard/sessions/{session_id}/link",
        f"/dashboard/sessions/{session_id}/card",
        f"/dashboard/sessions/{session_id}/media/ABC",
        "/dashboard/sessions/not-a-uuid/chats",
    ):
        page = await client.get(path)
        assert page.status_code == 404, path
        assert "Not found" in page.text
        assert "Secret shop" not in page.text
    for action in ("restart", "logout", "delete", "api-key"):
        refused = await client.post(
            f"/dashboard/sessions/{session_id}/{action}", data={"csrf_token": token}
        )
        assert refused.status_code == 404, action
    sent = await client.post(
        "/dashboard/send",
        data={"csrf_token": token, "session_id": session_id, "to": "15550009999", "text": "hi"},
    )
    assert sent.status_code == 404
    still = await client.get(f"/api/v1/sessions/{session_id}/status", headers=owner.headers)
    assert still.status_code == 200


@pytest.mark.private_urls
async def test_every_page_renders_for_a_logged_in_user(
    client: httpx.AsyncClient, dashboard_login: Login, settings: Any
) -> None:
    token = await dashboard_login()
    created = await client.post("/dashboard/sessions", data={"name": "Shop", "csrf_token": token})
    assert created.status_code == 200
    key = _KEY.search(created.text)
    assert key and key.group(1).startswith("sak_"), "the new session's key is shown once"
    me = await client.get("/api/v1/sessions/me", headers={"x-api-key": key.group(1)})
    session_id = me.json()["data"]["sessionId"]

    sent = await client.post(
        "/dashboard/send",
        data={"csrf_token": token, "session_id": session_id, "to": "+1 555 000 9999", "text": "Hi"},
    )
    assert sent.status_code == 303
    chat = "15550009999@s.whatsapp.net"
    assert sent.headers["location"] == f"/dashboard/sessions/{session_id}/chats/{chat}"

    key_page = await client.post("/dashboard/api-keys", data={"name": "CRM", "csrf_token": token})
    assert "wgk_" in key_page.text
    hook = await client.post(
        "/dashboard/webhooks",
        data={
            "session_id": session_id,
            "url": "http://127.0.0.1:9/hook",
            "events": ["message.received", "message.status"],
            "send_secret_header": "true",
            "csrf_token": token,
        },
    )
    assert hook.status_code == 200, hook.text
    assert "signing secret is shown only this once" in hook.text
    hooks = await client.get(
        "/api/v1/webhooks", headers={"Authorization": f"Bearer {await _token(client)}"}
    )
    webhook_id = hooks.json()["data"]["webhooks"][0]["id"]

    pages = [
        "/dashboard/sessions",
        f"/dashboard/sessions/{session_id}/card",
        f"/dashboard/sessions/{session_id}/link",
        "/dashboard/messages",
        f"/dashboard/sessions/{session_id}/chats",
        f"/dashboard/sessions/{session_id}/chats/{chat}",
        f"/dashboard/sessions/{session_id}/chats/{chat}/messages",
        f"/dashboard/sessions/{session_id}/chat-list",
        "/dashboard/webhooks",
        f"/dashboard/webhooks/{webhook_id}",
        f"/dashboard/webhooks/{webhook_id}/deliveries",
        "/dashboard/api-keys",
        "/dashboard/analytics",
        "/dashboard/analytics?days=7",
        "/dashboard/sandbox",
    ]
    for path in pages:
        page = await client.get(path, follow_redirects=True)
        assert page.status_code == 200, f"{path}: {page.status_code} {page.text[:300]}"
        assert page.headers["content-type"].startswith("text/html")
    conversation = await client.get(f"/dashboard/sessions/{session_id}/chats/{chat}")
    assert "Hi" in conversation.text
    assert 'data-status="queued"' in conversation.text or 'data-status="sent"' in conversation.text
    assert (await client.get("/dashboard/nowhere")).status_code == 404
    assert (await client.get("/")).status_code == 303  # logged in: straight to the dashboard
    assert (await client.get("/dashboard/static/app.css")).status_code == 200


async def _token(client: httpx.AsyncClient) -> str:
    token = await client.get("/dashboard/live-token", headers={"accept": "application/json"})
    assert token.status_code == 200
    assert token.headers["cache-control"] == "no-store"
    value: str = token.json()["token"]
    return value


async def test_the_live_token_needs_a_login_and_works_for_the_api(
    client: httpx.AsyncClient, dashboard_login: Login
) -> None:
    anonymous = await client.get("/dashboard/live-token", headers={"accept": "application/json"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "NO_TOKEN"
    await dashboard_login()
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {await _token(client)}"}
    )
    assert me.json()["data"]["user"]["email"] == ADMIN_EMAIL


async def test_registering_logs_the_new_user_in(client: httpx.AsyncClient, csrf_of: CsrfOf) -> None:
    page = await client.get("/register")
    assert page.status_code == 200
    response = await client.post(
        "/register",
        data={
            "email": "new@example.com",
            "password": "s3cure-pass-1",
            "name": "Nia",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 303
    landing = await client.get(response.headers["location"])
    assert "Welcome to wagate!" in landing.text
    assert "Nia" in landing.text
    taken = await client.post(
        "/register",
        data={
            "email": "new@example.com",
            "password": "s3cure-pass-1",
            "csrf_token": csrf_of(landing.text),
        },
    )
    assert taken.status_code == 409
    assert "already exists" in taken.text


@pytest.mark.registration_closed
async def test_no_registration_page_when_registration_is_closed(client: httpx.AsyncClient) -> None:
    assert (await client.get("/register")).status_code == 404
    assert "Create an account" not in (await client.get("/")).text


async def test_a_refused_form_goes_back_with_the_reason(
    client: httpx.AsyncClient, dashboard_login: Login
) -> None:
    token = await dashboard_login()
    response = await client.post(
        "/dashboard/api-keys",
        data={"name": "Bad", "expires_in_days": "0", "csrf_token": token},
        headers={"referer": "http://wagate.test/dashboard/api-keys"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/api-keys"
    page = await client.get("/dashboard/api-keys")
    assert "Expiry: a number of days" in page.text
    assert "Bad" not in page.text  # nothing was created
