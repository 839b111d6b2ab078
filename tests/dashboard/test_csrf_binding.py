"""The dashboard's CSRF token is bound to the login it was issued for: a pair of
CSRF cookie and token obtained elsewhere (anonymously, or by another user) does
not work with someone's login cookie. Over HTTPS the cookie is ``__Host-``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

CsrfOf = Callable[[str], str]
Login = Callable[..., Awaitable[str]]


@pytest.fixture
async def other_browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wagate.test") as http:
        yield http


async def forged_post(client: httpx.AsyncClient, csrf_cookie: str, token: str) -> httpx.Response:
    """The victim's browser, with a CSRF cookie the attacker planted, posts the
    attacker's form."""
    client.cookies.set("wagate_csrf", csrf_cookie, domain="wagate.test")
    return await client.post("/dashboard/sessions", data={"name": "Planted", "csrf_token": token})


async def sessions_of(client: httpx.AsyncClient, token: str) -> int:
    listed = await client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    return len(listed.json()["data"]["sessions"])


async def test_an_anonymous_pair_does_not_work_with_a_login(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    dashboard_login: Login,
    csrf_of: CsrfOf,
) -> None:
    await dashboard_login()
    page = await other_browser.get("/")
    planted_cookie, planted_token = other_browser.cookies["wagate_csrf"], csrf_of(page.text)
    response = await forged_post(client, planted_cookie, planted_token)
    assert response.status_code == 403, response.text
    assert (await client.get("/dashboard/sessions")).text.count("Planted") == 0


async def test_another_users_pair_does_not_work_with_a_login(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    dashboard_login: Login,
    csrf_of: CsrfOf,
    user: object,
) -> None:
    await dashboard_login()
    page = await other_browser.get("/")
    await other_browser.post(
        "/login",
        data={
            "email": user.email,  # type: ignore[attr-defined]
            "password": user.password,  # type: ignore[attr-defined]
            "csrf_token": csrf_of(page.text),
        },
    )
    landing = await other_browser.get("/dashboard/sessions")
    response = await forged_post(
        client, other_browser.cookies["wagate_csrf"], csrf_of(landing.text)
    )
    assert response.status_code == 403, response.text


async def test_the_own_pair_still_works(client: httpx.AsyncClient, dashboard_login: Login) -> None:
    token = await dashboard_login()
    created = await client.post("/dashboard/sessions", data={"name": "Mine", "csrf_token": token})
    assert created.status_code == 200, created.text
    assert "Mine" in (await client.get("/dashboard/sessions")).text


@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://wagate.test"}])
async def test_over_https_the_csrf_cookie_is_host_prefixed(app: FastAPI, csrf_of: CsrfOf) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://wagate.test") as browser:
        page = await browser.get("/")
        cookies = page.headers.get_list("set-cookie")
        csrf = [c for c in cookies if "csrf" in c]
        assert csrf and csrf[0].startswith("__Host-wagate_csrf="), cookies
        assert "secure" in csrf[0].lower() and "path=/" in csrf[0].lower()
        assert "domain" not in csrf[0].lower()
        login = await browser.post(
            "/login",
            data={
                "email": "admin@example.com",
                "password": "admin-password-1",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert login.status_code == 303, login.text
        landing = await browser.get(login.headers["location"])
        created = await browser.post(
            "/dashboard/sessions", data={"name": "Secure", "csrf_token": csrf_of(landing.text)}
        )
        assert created.status_code == 200, created.text
        assert "Secure" in (await browser.get("/dashboard/sessions")).text
