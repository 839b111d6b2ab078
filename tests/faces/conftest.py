"""The multi-session face as its guide's clients use it: users that log in by
username, Bearer headers, and sessions addressed by id or by number."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest


@dataclass
class GuideUser:
    __test__ = False

    id: str
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Guide:
    """The guide's calls, each asserting the status the guide gives it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def user(
        self, username: str | None = None, password: str = "password-2-long"
    ) -> GuideUser:
        username = username or f"user{uuid.uuid4().hex[:8]}"
        registered = await self.client.post(
            "/api/v1/auth/register",
            json={"email": f"{username}@example.com", "password": password, "username": username},
        )
        assert registered.status_code == 201, registered.text
        return await self.login(username, password)

    async def login(self, username: str, password: str) -> GuideUser:
        response = await self.client.post(
            "/api/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        return GuideUser(body["user"]["id"], body["user"]["username"], password, body["token"])

    async def create(self, user: GuideUser, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/api/sessions", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        session: dict[str, Any] = response.json()
        return session

    async def sessions(self, user: GuideUser) -> list[dict[str, Any]]:
        response = await self.client.get("/api/sessions", headers=user.headers)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found


@pytest.fixture
def guide(client: httpx.AsyncClient) -> Guide:
    return Guide(client)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # The tests' webhook receivers listen on loopback.
    return {"allow_private_urls": True}


# The live tests' real uvicorn (WebSocket clients need a socket) and the
# webhook tests' real receiver, shared rather than written again.
from tests.dashboard.conftest import dashboard_login  # noqa: E402, F401
from tests.live.conftest import ws_base  # noqa: E402, F401
from tests.webhooks.conftest import make_receiver  # noqa: E402, F401
