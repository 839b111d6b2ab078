"""The sandbox API shows each user their own corner of the shared network: media
only from their phones' messages, and network status without others' counts."""

from __future__ import annotations

import base64
from typing import Any

import httpx

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    return {"Authorization": f"Bearer {login.json()['data']['token']}"}


async def test_media_is_served_only_to_the_owner_of_a_phone_that_has_it(
    client: httpx.AsyncClient, make_user: Any, session_tools: Any, wait_until: Any
) -> None:
    owner, stranger = await make_user(), await make_user()
    linked = await session_tools.link(owner.headers)
    sent = await client.post(
        "/api/v1/messages/send-image",
        data={"to": linked.phone},
        files={"image": ("dot.png", PNG, "image/png")},
        headers={"x-api-key": linked.api_key},
    )
    assert sent.status_code == 200, sent.text
    seen: list[dict[str, Any]] = []

    async def arrived() -> bool:
        listed = await client.get(
            f"/sandbox/v1/phones/{linked.phone}/messages", headers=owner.headers
        )
        seen[:] = [m for m in listed.json()["data"]["messages"] if m.get("sha256")]
        return bool(seen)

    await wait_until(arrived, what="the image on the phone")
    sha256 = seen[0]["sha256"]
    mine = await client.get(f"/sandbox/v1/media/{sha256}", headers=owner.headers)
    assert mine.status_code == 200
    assert mine.content == PNG
    theirs = await client.get(f"/sandbox/v1/media/{sha256}", headers=stranger.headers)
    assert theirs.status_code == 404, theirs.text
    assert theirs.json()["error"]["code"] == "NOT_FOUND"


async def test_network_status_shows_a_user_only_their_own_counts(
    client: httpx.AsyncClient, make_user: Any, session_tools: Any
) -> None:
    busy, idle = await make_user(), await make_user()
    await session_tools.link(busy.headers)
    await session_tools.phone(busy.headers)
    status = (await client.get("/sandbox/v1/status", headers=idle.headers)).json()["data"]
    assert status["networkUp"] is True
    assert status["phones"] == 0
    assert status.get("linkedSessions", 0) == 0
    assert status.get("connectedSessions", 0) == 0
    assert "groups" not in status
    whole = (await client.get("/sandbox/v1/status", headers=await admin_headers(client))).json()
    assert whole["data"]["phones"] >= 2
    assert whole["data"]["connectedSessions"] >= 1
