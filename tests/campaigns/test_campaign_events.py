"""A campaign's progress and completion as user-level events: they reach the
user's user-level webhooks and stream, never another user's, and never a
session's webhook."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.campaigns.conftest import Broadcaster
from tests.conftest import TestUser, UserFactory
from tests.webhooks.conftest import Receiver, make_receiver
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wagate.events.models import OutboxEvent

__all__ = ["make_receiver"]

pytestmark = pytest.mark.both_databases

CAMPAIGN_EVENTS = ["campaign.progress", "campaign.completed"]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_urls": True}  # the receivers listen on loopback


async def webhook(
    client: httpx.AsyncClient, user: TestUser, url: str, events: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks", json={"url": url, "events": events, **extra}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def receive(ws: ClientConnection, timeout: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def stream_until(ws: ClientConnection, kind: str, seen: list[dict[str, Any]]) -> None:
    while True:
        message = await receive(ws)
        seen.append(message)
        if message["type"] == kind:
            return


async def nothing_on(ws: ClientConnection, seconds: float) -> None:
    """A bounded negative check: no message within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            message = await ws.recv()
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message on another user's stream: {message!r}")


async def start_campaign(
    broadcaster: Broadcaster, user: TestUser, session_id: str, phones: list[str]
) -> dict[str, Any]:
    await broadcaster.contacts(user, phones, tags=["evt"])
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hi {{name}}")
    campaign: dict[str, Any] = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Events",
        templateId=template["id"],
        sessionIds=[session_id],
        tags=["evt"],
        ratePerMinute=0,
        start=True,
    )
    return campaign


async def test_progress_and_completion_reach_the_users_webhook_and_stream_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    broadcaster: Broadcaster,
    user: TestUser,
    make_user: UserFactory,
    session_tools: Any,
    make_receiver: Any,
    ws_base: str,
) -> None:
    other = await make_user()
    linked = await session_tools.link(user.headers)
    phones = await broadcaster.phones(user, 3)

    mine: Receiver = make_receiver()
    theirs: Receiver = make_receiver()
    of_the_session: Receiver = make_receiver()
    for receiver in (mine, theirs, of_the_session):
        await receiver.start()
    await webhook(client, user, mine.url, CAMPAIGN_EVENTS)
    await webhook(client, other, theirs.url, ["*"])  # everything of the other user's
    await webhook(client, user, of_the_session.url, ["*"], sessionId=linked.session_id)

    my_stream = f"{ws_base}/api/v1/events?token={user.token}"
    their_stream = f"{ws_base}/api/v1/events?token={other.token}&events=*"
    async with connect(my_stream) as ws, connect(their_stream) as other_ws:
        assert (await receive(ws))["type"] == "ready"
        assert (await receive(other_ws))["type"] == "ready"
        campaign = await start_campaign(broadcaster, user, linked.session_id, phones)

        # The webhook: progress while it runs, then the completion with final counts.
        first = await mine.until("campaign.progress", timeout=30)
        assert first.json["campaignId"] == campaign["id"]
        assert "sessionId" not in first.json
        assert set(first.json["stats"]) >= {
            "queued", "sent", "delivered", "read", "failed", "skipped",
            "deliveryRate", "readRate",
        }  # fmt: skip
        completed = await mine.until("campaign.completed", timeout=30)
        final = completed.json
        assert (final["campaignId"], final["state"]) == (campaign["id"], "completed")
        assert final["stats"]["total"] == 3
        assert final["stats"]["queued"] == 0 and final["stats"]["pending"] == 0
        assert final["stats"]["sent"] == 3 and final["stats"]["failed"] == 0

        # Read receipts after the completion still come, as progress (the phones
        # may also have read everything before the completion was reported).
        latest = final
        while latest["stats"]["read"] < 3:
            latest = (await mine.until("campaign.progress", timeout=30)).json
        assert latest["stats"]["readRate"] == 1.0
        assert latest["stats"]["deliveryRate"] == 1.0

        # The stream: the same events, in order.
        seen: list[dict[str, Any]] = []
        await stream_until(ws, "campaign.completed", seen)
        assert {m["type"] for m in seen} == set(CAMPAIGN_EVENTS)
        assert all(m["data"]["campaignId"] == campaign["id"] for m in seen)
        sequences = [m["data"]["sequence"] for m in seen]
        assert sequences == sorted(sequences)

        # Nobody else: the other user's stream and webhook, which take everything of theirs.
        await nothing_on(other_ws, 1.0)
    await theirs.nothing_for(0.5)
    # The session's own webhook took the session's events, and no campaign event.
    got = []
    while not of_the_session.received.empty():
        got.append(of_the_session.received.get_nowait().event)
    assert "message.status" in got
    assert not [name for name in got if name.startswith("campaign.")]

    # Throttled: progress of one state at most once a second.
    async with app.state.database.transaction() as db:
        rows = (
            (
                await db.execute(
                    select(OutboxEvent)
                    .where(OutboxEvent.type == "campaign.progress")
                    .order_by(OutboxEvent.seq)
                )
            )
            .scalars()
            .all()
        )
    rows = [r for r in rows if r.payload["campaignId"] == campaign["id"]]
    for before, after in itertools.pairwise(rows):
        if before.payload["state"] == after.payload["state"]:
            gap = (after.created_at - before.created_at).total_seconds()
            assert gap >= 0.99, f"two progress events {gap:.3f}s apart"


async def test_a_state_change_is_reported_at_once(
    client: httpx.AsyncClient,
    broadcaster: Broadcaster,
    user: TestUser,
    session_tools: Any,
    ws_base: str,
) -> None:
    linked = await session_tools.link(user.headers)
    phones = await broadcaster.phones(user, 2)
    await broadcaster.contacts(user, phones, tags=["slow"])
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hi")
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Slow",
        templateId=template["id"],
        sessionIds=[linked.session_id],
        tags=["slow"],
        ratePerMinute=1,  # the second recipient waits a minute
    )
    async with connect(f"{ws_base}/api/v1/events?token={user.token}") as ws:
        assert (await receive(ws))["type"] == "ready"
        await broadcaster.post(user, f"/campaigns/{campaign['id']}/start")
        states: list[str] = []
        for action, state in (("pause", "paused"), ("cancel", "cancelled")):
            while not states or states[-1] != "running":
                message = await receive(ws)
                states.append(message["data"]["state"])
            await broadcaster.post(user, f"/campaigns/{campaign['id']}/{action}")
            while states[-1] != state:
                message = await receive(ws)
                assert message["type"] == "campaign.progress"
                states.append(message["data"]["state"])
            if state == "paused":
                await broadcaster.post(user, f"/campaigns/{campaign['id']}/resume")
    assert states[-1] == "cancelled"


async def test_user_level_webhooks_through_the_api(
    client: httpx.AsyncClient,
    user: TestUser,
    session_tools: Any,
    make_receiver: Any,
    ws_base: str,
) -> None:
    receiver: Receiver = make_receiver()
    await receiver.start()
    # A user key works as well as a token.
    key = await client.post("/api/v1/auth/api-keys", json={"name": "crm"}, headers=user.headers)
    assert key.status_code == 201, key.text
    by_key = {"x-api-key": key.json()["data"]["key"]}
    created = await client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["message.received", "campaign.completed"]},
        headers=by_key,
    )
    assert created.status_code == 201, created.text
    listed = await client.get("/api/v1/webhooks", headers=by_key)
    [item] = listed.json()["data"]["webhooks"]
    assert item["session_id"] is None

    # A session's webhook cannot take a user's events.
    first = await session_tools.link(user.headers, "One")
    refused = await client.post(
        "/api/v1/webhooks",
        json={"sessionId": first.session_id, "url": receiver.url, "events": ["campaign.progress"]},
        headers=user.headers,
    )
    assert refused.status_code == 400, refused.text
    assert "without sessionId" in refused.json()["error"]["message"]

    # The session events it subscribes to come from every session of the user's.
    second = await session_tools.link(user.headers, "Two")
    customer = await session_tools.phone(user.headers)
    for linked in (first, second):
        sent = await client.post(
            f"/sandbox/v1/phones/{customer}/messages",
            json={"to": linked.phone, "text": f"to {linked.phone}"},
            headers=user.headers,
        )
        assert sent.status_code == 201, sent.text
    got = {(await receiver.until("message.received")).json["sessionId"] for _ in range(2)}
    assert got == {first.session_id, second.session_id}

    # The stream refuses a session key and an unknown event name.
    for query, headers, code in (
        ("", {"x-api-key": first.api_key}, 4401),
        (f"?token={user.token}&events=nope", {}, 4400),
        ("?token=not-a-token", {}, 4401),
    ):
        async with connect(f"{ws_base}/api/v1/events{query}", additional_headers=headers) as ws:
            try:
                async with asyncio.timeout(10):
                    await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None
                assert closed.rcvd.code == code, (query, closed.rcvd)
            else:
                raise AssertionError(f"{query or headers} was not refused")
    # A user key watches its user's stream.
    async with connect(f"{ws_base}/api/v1/events", additional_headers=by_key) as ws:
        ready = await receive(ws)
        assert (ready["type"], ready["data"]["userId"]) == ("ready", user.id)
