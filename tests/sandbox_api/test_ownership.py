"""``/sandbox/v1`` as tenants use it: a user acts only as the phones they
created, sees only the groups those phones are in, and faults only their own
sessions; faults of the whole network are for administrators."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from wagate.events.models import OutboxEvent
from wagate.messages import directory
from wagate.sessions.models import WhatsAppSession


async def disconnections(app: FastAPI, session_id: str) -> int:
    async with app.state.database.sessionmaker() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.session_id == uuid.UUID(session_id),
                OutboxEvent.type == "session.disconnected",
            )
        )
        return int(count or 0)


@pytest.fixture
async def tenants(make_user: Any) -> tuple[Any, Any]:
    """Two users: one who owns what the test makes, one who tries to reach it."""
    return await make_user(), await make_user()


async def test_a_phone_is_its_creators_only(
    client: httpx.AsyncClient, tenants: tuple[Any, Any], session_tools: Any
) -> None:
    owner, stranger = tenants
    phone = await session_tools.phone(owner.headers)

    taken = await client.post(
        "/sandbox/v1/phones", json={"phone": f"+{phone}"}, headers=stranger.headers
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "CONFLICT"
    for method, path, body in (
        ("GET", f"/sandbox/v1/phones/{phone}", None),
        ("PATCH", f"/sandbox/v1/phones/{phone}", {"name": "Mine now"}),
        ("DELETE", f"/sandbox/v1/phones/{phone}", None),
        ("GET", f"/sandbox/v1/phones/{phone}/messages", None),
        ("POST", f"/sandbox/v1/phones/{phone}/messages", {"to": "15550009999", "text": "x"}),
        ("POST", f"/sandbox/v1/phones/{phone}/link", {"qr": "anything"}),
    ):
        refused = await client.request(method, path, json=body, headers=stranger.headers)
        assert refused.status_code == 404, (method, path, refused.text)
    listed = await client.get("/sandbox/v1/phones", headers=stranger.headers)
    assert listed.json()["data"]["phones"] == []

    mine = await client.get(f"/sandbox/v1/phones/{phone}", headers=owner.headers)
    assert mine.status_code == 200
    assert mine.json()["data"]["name"] == f"Phone {phone[-4:]}"
    listed = await client.get("/sandbox/v1/phones", headers=owner.headers)
    assert [p["number"] for p in listed.json()["data"]["phones"]] == [phone]

    deleted = await client.delete(f"/sandbox/v1/phones/{phone}", headers=owner.headers)
    assert deleted.status_code == 200
    reclaimed = await client.post(
        "/sandbox/v1/phones", json={"phone": phone}, headers=stranger.headers
    )
    assert reclaimed.status_code == 201, reclaimed.text


async def test_groups_are_seen_by_the_owners_of_their_members(
    client: httpx.AsyncClient, tenants: tuple[Any, Any], session_tools: Any
) -> None:
    owner, stranger = tenants
    admin = await session_tools.phone(owner.headers)
    member = await session_tools.phone(owner.headers)
    created = await client.post(
        "/sandbox/v1/groups",
        json={"name": "Team", "owner": admin, "participants": [member]},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    jid = created.json()["data"]["jid"]
    not_owner = await client.post(
        "/sandbox/v1/groups",
        json={"name": "Theirs", "owner": admin, "participants": []},
        headers=stranger.headers,
    )
    assert not_owner.status_code == 404

    seen = await client.get("/sandbox/v1/groups", headers=owner.headers)
    assert [g["jid"] for g in seen.json()["data"]["groups"]] == [jid]
    unseen = await client.get("/sandbox/v1/groups", headers=stranger.headers)
    assert unseen.json()["data"]["groups"] == []
    refused = await client.patch(
        f"/sandbox/v1/groups/{jid}/participants",
        json={"remove": [member]},
        headers=stranger.headers,
    )
    assert refused.status_code == 404


async def test_faults_reach_only_the_callers_sessions(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenants: tuple[Any, Any],
    session_tools: Any,
    wait_until: Any,
) -> None:
    owner, stranger = tenants
    linked = await session_tools.link(owner.headers)
    for body in (
        {"kind": "disconnect", "sessionId": linked.session_id},
        {"kind": "disconnect", "sessionId": "not-a-session"},
    ):
        refused = await client.post("/sandbox/v1/faults", json=body, headers=stranger.headers)
        assert refused.status_code == 404, body
    for kind in ("network_down", "latency"):
        refused = await client.post(
            "/sandbox/v1/faults", json={"kind": kind, "ms": 5}, headers=owner.headers
        )
        assert refused.status_code == 403, kind
        assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert (await session_tools.status(owner.headers, linked.session_id))["state"] == "connected"
    assert await disconnections(app, linked.session_id) == 0

    applied = await client.post(
        "/sandbox/v1/faults",
        json={"kind": "disconnect", "sessionId": linked.session_id},
        headers=owner.headers,
    )
    assert applied.json()["data"] == {"kind": "disconnect", "applied": True}

    async def dropped() -> bool:
        return await disconnections(app, linked.session_id) == 1

    await wait_until(dropped, what="the owner's fault to drop the session")


async def test_a_business_phone_is_reported_with_its_verified_name(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    shop = await session_tools.phone(user.headers, businessName="Acme Shoes")
    person = await session_tools.phone(user.headers)
    shown = await client.get(f"/sandbox/v1/phones/{shop}", headers=user.headers)
    assert shown.json()["data"]["businessName"] == "Acme Shoes"
    too_long = await client.patch(
        f"/sandbox/v1/phones/{person}", json={"businessName": "x" * 101}, headers=user.headers
    )
    assert too_long.status_code == 400

    async with app.state.database.transaction() as db:
        session = await db.get(WhatsAppSession, uuid.UUID(linked.session_id))
        assert session is not None
        checks = await directory.check_numbers(
            app.state.session_manager, session, [shop, person, "19998887777"]
        )
    assert [(c.number, c.on_whatsapp, c.verified_name) for c in checks] == [
        (shop, True, "Acme Shoes"),
        (person, True, None),
        ("19998887777", False, None),
    ]
