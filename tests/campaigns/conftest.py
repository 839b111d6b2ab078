"""A broadcaster's calls on the real app and sandbox phones."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.conftest import TestUser

API = "/api/v1/broadcast"


class Broadcaster:
    def __init__(self, client: httpx.AsyncClient, session_tools: Any, wait_until: Any) -> None:
        self.client = client
        self.tools = session_tools
        self.wait_until = wait_until

    async def post(self, user: TestUser, path: str, status: int = 200, **body: Any) -> Any:
        response = await self.client.post(f"{API}{path}", json=body, headers=user.headers)
        assert response.status_code == status, response.text
        return response.json()["data"] if status < 400 else response.json()

    async def phones(self, user: TestUser, count: int) -> list[str]:
        """Sandbox phones that read what they receive (read receipts come back)."""
        return [await self.tools.phone(user.headers, autoRead=True) for _ in range(count)]

    async def contacts(self, user: TestUser, phones: list[str], **extra: Any) -> list[str]:
        ids = []
        for index, phone in enumerate(phones):
            created = await self.post(
                user, "/contacts", 201, phone=f"+{phone}", name=f"Friend {index}", **extra
            )
            ids.append(created["id"])
        return ids

    async def campaign(self, user: TestUser, campaign_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{API}/campaigns/{campaign_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def recipients(self, user: TestUser, campaign_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{API}/campaigns/{campaign_id}/recipients", headers=user.headers
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]["recipients"]
        return found

    async def wait_for(self, user: TestUser, campaign_id: str, what: str, check: Any) -> None:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            seen.update(await self.campaign(user, campaign_id))
            return bool(check(seen))

        try:
            await self.wait_until(reached, 30, f"campaign {what}")
        except AssertionError as exc:
            # What the campaign looked like at the last look, not before the first.
            raise AssertionError(f"{exc}: {seen.get('state')}, {seen.get('stats')}") from None

    async def inbox(self, user: TestUser, phone: str) -> list[dict[str, Any]]:
        """What the phone received (newest first)."""
        response = await self.client.get(
            f"/sandbox/v1/phones/{phone}/messages", headers=user.headers, params={"limit": 500}
        )
        assert response.status_code == 200, response.text
        return [m for m in response.json()["data"]["messages"] if m["to"].startswith(phone)]


@pytest.fixture
def broadcaster(client: httpx.AsyncClient, session_tools: Any, wait_until: Any) -> Broadcaster:
    return Broadcaster(client, session_tools, wait_until)


# The app served by a real uvicorn, for the user stream (shared with the live tests).
from tests.live.conftest import ws_base  # noqa: E402, F401
