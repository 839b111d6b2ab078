"""Helpers for the dashboard's tests: logging in through the form, as a browser does."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"


def _csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@pytest.fixture
def csrf_of() -> Callable[[str], str]:
    """The CSRF token a rendered page gives its forms."""
    return _csrf_of


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rate_limited: the app under test enforces rate limits")


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if request.node.get_closest_marker("registration_closed"):
        overrides["allow_registration"] = False
    if request.node.get_closest_marker("private_urls"):
        overrides["allow_private_urls"] = True
    if request.node.get_closest_marker("rate_limited"):
        overrides["rate_limit_enabled"] = True
    return overrides


@pytest.fixture
def dashboard_login(client: httpx.AsyncClient) -> Callable[..., Awaitable[str]]:
    """Log ``client`` in through the login form; returns the CSRF token for its forms."""

    async def _login(email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
        page = await client.get("/")
        response = await client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": _csrf_of(page.text)},
        )
        assert response.status_code == 303, response.text
        landing = await client.get(response.headers["location"])
        assert landing.status_code == 200
        return _csrf_of(landing.text)

    return _login
