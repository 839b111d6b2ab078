"""Campaigns on the real app and sandbox phones: exactly one message per
recipient, statuses tracked to read, opt-outs respected, pacing, pause and
resume, missing variables named before anything starts."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import httpx
import pytest
from tests.campaigns.conftest import Broadcaster
from tests.conftest import TestUser, UserFactory


@pytest.mark.both_databases
async def test_a_campaign_reaches_every_recipient_once_and_tracks_reads(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    first = await session_tools.link(user.headers, "Shop A")
    second = await session_tools.link(user.headers, "Shop B")
    phones = await broadcaster.phones(user, 6)
    await broadcaster.contacts(user, phones, tags=["march"])
    [opted_out_phone] = await broadcaster.phones(user, 1)
    await broadcaster.contacts(user, [opted_out_phone], tags=["march"], optedOut=True)
    template = await broadcaster.post(
        user,
        "/templates",
        201,
        name="Sale",
        body="Hi {{name}}, {{offer}}!",
        defaults={"offer": "20% off"},
    )
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="March sale",
        templateId=template["id"],
        sessionIds=[first.session_id, second.phone],  # by id or by number
        tags=["march"],
        ratePerMinute=0,
        start=True,
    )
    assert campaign["state"] == "running"
    assert campaign["stats"]["total"] == 7 and campaign["stats"]["skipped"] == 1

    await broadcaster.wait_for(
        user,
        campaign["id"],
        "to be read by all and completed",
        # The phones may read before the runner's next pass marks it completed.
        lambda c: c["stats"]["read"] == 6 and c["state"] == "completed",
    )
    done = await broadcaster.campaign(user, campaign["id"])
    assert done["state"] == "completed"
    assert done["stats"]["deliveryRate"] == 1.0 and done["stats"]["readRate"] == 1.0
    assert done["stats"]["failed"] == 0

    for index, phone in enumerate(phones):
        received = await broadcaster.inbox(user, phone)
        assert [m["text"] for m in received] == [f"Hi Friend {index}, 20% off!"], phone
    assert await broadcaster.inbox(user, opted_out_phone) == []
    senders = {m["from"].split("@")[0] for p in phones for m in await broadcaster.inbox(user, p)}
    assert senders == {first.phone, second.phone}  # both sessions took a share

    recipients = await broadcaster.recipients(user, campaign["id"])
    by_phone = {r["phone"]: r for r in recipients}
    assert by_phone[f"+{opted_out_phone}"]["status"] == "skipped"
    assert by_phone[f"+{opted_out_phone}"]["reason"] == "opted out"
    assert {by_phone[f"+{p}"]["status"] for p in phones} == {"read"}

    # A recipient's answer to the session that wrote to it is its reply.
    replier = phones[0]
    [received] = await broadcaster.inbox(user, replier)
    answered = await broadcaster.client.post(
        f"/sandbox/v1/phones/{replier}/messages",
        json={"to": received["from"].split("@")[0], "text": "Yes please"},
        headers=user.headers,
    )
    assert answered.status_code == 201, answered.text
    await broadcaster.wait_for(
        user, campaign["id"], "the reply", lambda c: c["stats"]["replied"] == 1
    )
    replied = {r["phone"]: r for r in await broadcaster.recipients(user, campaign["id"])}
    assert replied[f"+{replier}"]["repliedAt"] is not None
    assert replied[f"+{phones[1]}"]["repliedAt"] is None


async def test_a_missing_variable_stops_the_start_and_names_the_recipient(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    phones = await broadcaster.phones(user, 2)
    [with_city, without_city] = await broadcaster.contacts(user, phones)
    await broadcaster.client.patch(
        f"/api/v1/broadcast/contacts/{with_city}",
        json={"fields": {"city": "Pune"}},
        headers=user.headers,
    )
    template = await broadcaster.post(
        user, "/templates", 201, name="T", body="{{name}} in {{city}}"
    )
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="C",
        templateId=template["id"],
        sessionIds=[linked.session_id],
        contactIds=[with_city, without_city],
    )
    refused = await broadcaster.post(user, f"/campaigns/{campaign['id']}/start", 400)
    message = refused["error"]["message"]
    assert "'city'" in message and f"+{phones[1]}" in message and f"+{phones[0]}" not in message
    unchanged = await broadcaster.campaign(user, campaign["id"])
    assert unchanged["state"] == "draft" and unchanged["stats"]["total"] == 0


async def test_pacing_spaces_each_sessions_sends(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    phones = await broadcaster.phones(user, 3)
    ids = await broadcaster.contacts(user, phones)
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hello {{name}}")
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Paced",
        templateId=template["id"],
        sessionIds=[linked.session_id],
        contactIds=ids,
        ratePerMinute=120,  # one every 0.5 s
        jitterSeconds=0.2,
        start=True,
    )
    await broadcaster.wait_for(
        user, campaign["id"], "to be delivered", lambda c: c["stats"]["delivered"] == 3
    )
    stamps: list[int] = []
    for phone in phones:
        stamps += [m["timestampMs"] for m in await broadcaster.inbox(user, phone)]
    stamps.sort()
    gaps = [later - earlier for earlier, later in pairwise(stamps)]
    assert len(stamps) == 3 and all(gap >= 490 for gap in gaps), gaps


async def test_pause_resume_and_cancel(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    phones = await broadcaster.phones(user, 3)
    ids = await broadcaster.contacts(user, phones)
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hello {{name}}")
    body = {
        "name": "Slow",
        "templateId": template["id"],
        "sessionIds": [linked.session_id],
        "contactIds": ids,
        "ratePerMinute": 30,  # one every 2 s: a pause lands between two sends
        "jitterSeconds": 0,
        "start": True,
    }
    campaign = await broadcaster.post(user, "/campaigns", 201, **body)
    await broadcaster.wait_for(
        user, campaign["id"], "first send", lambda c: c["stats"]["sent"] >= 1
    )
    paused = await broadcaster.post(user, f"/campaigns/{campaign['id']}/pause")
    assert paused["state"] == "paused"
    assert paused["stats"]["pending"] >= 1
    again = await broadcaster.post(user, f"/campaigns/{campaign['id']}/pause", 409)
    assert again["error"]["code"] == "CONFLICT"
    resumed = await broadcaster.post(user, f"/campaigns/{campaign['id']}/resume")
    assert resumed["state"] == "running"
    await broadcaster.wait_for(
        user,
        campaign["id"],
        "to complete with no message waiting in the queue",
        lambda c: c["state"] == "completed" and c["stats"]["queued"] == 0,
    )
    total = sum([len(await broadcaster.inbox(user, p)) for p in phones])
    assert total == 3

    cancelled = await broadcaster.post(user, "/campaigns", 201, **{**body, "name": "Cancelled"})
    stopped = await broadcaster.post(user, f"/campaigns/{cancelled['id']}/cancel")
    assert stopped["state"] == "cancelled"
    assert stopped["stats"]["pending"] == 0
    assert stopped["stats"]["skipped"] + stopped["stats"]["queued"] + stopped["stats"]["sent"] == 3


async def test_stop_from_a_contact_opts_it_out(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any, client: httpx.AsyncClient
) -> None:
    linked = await session_tools.link(user.headers)
    [phone] = await broadcaster.phones(user, 1)
    [contact_id] = await broadcaster.contacts(user, [phone])
    sent = await client.post(
        f"/sandbox/v1/phones/{phone}/messages",
        json={"to": linked.phone, "text": " Stop "},
        headers=user.headers,
    )
    assert sent.status_code == 201, sent.text

    async def opted_out() -> bool:
        response = await client.get(
            f"/api/v1/broadcast/contacts/{contact_id}", headers=user.headers
        )
        return bool(response.json()["data"]["optedOut"])

    await broadcaster.wait_until(opted_out, 15, "the contact to be opted out")


async def test_another_users_campaigns_are_not_found(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any, make_user: UserFactory
) -> None:
    linked = await session_tools.link(user.headers)
    [phone] = await broadcaster.phones(user, 1)
    ids = await broadcaster.contacts(user, [phone])
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hi")
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="C",
        templateId=template["id"],
        sessionIds=[linked.session_id],
        contactIds=ids,
    )
    other = await make_user()
    for path in ("", "/recipients"):
        response = await broadcaster.client.get(
            f"/api/v1/broadcast/campaigns/{campaign['id']}{path}", headers=other.headers
        )
        assert response.status_code == 404, response.text
    started = await broadcaster.post(other, f"/campaigns/{campaign['id']}/start", 404)
    assert started["error"]["code"] == "NOT_FOUND"
    # Another user's template, contacts or session cannot be used either.
    for body in ({"templateId": template["id"], "sessionIds": ["x"], "contactIds": []},):
        response = await broadcaster.client.post(
            "/api/v1/broadcast/campaigns", json={"name": "N", **body}, headers=other.headers
        )
        assert response.status_code == 404, response.text


async def test_two_hundred_phones_across_two_sessions_get_exactly_one_message_each(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    first = await session_tools.link(user.headers, "Shop A")
    second = await session_tools.link(user.headers, "Shop B")
    numbers = [f"1555{index:07d}" for index in range(3_000_000, 3_000_200)]
    created = await asyncio.gather(
        *(
            broadcaster.client.post(
                "/sandbox/v1/phones", json={"phone": number}, headers=user.headers
            )
            for number in numbers
        )
    )
    assert {response.status_code for response in created} == {201}
    rows = "".join(f"+{number},Friend {index},big\n" for index, number in enumerate(numbers))
    imported = await broadcaster.client.post(
        "/api/v1/broadcast/contacts/import",
        content=f"phone,name,tags\n{rows}",
        headers={**user.headers, "content-type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["data"]["imported"] == 200
    template = await broadcaster.post(
        user, "/templates", 201, name="Big", body="Hello {{name}}, number {{phone}}"
    )
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Two hundred",
        templateId=template["id"],
        sessionIds=[first.session_id, second.session_id],
        tags=["big"],
        ratePerMinute=0,
        start=True,
    )
    assert campaign["stats"]["total"] == 200

    await broadcaster.wait_for(
        user,
        campaign["id"],
        "to deliver to all 200 and complete",
        lambda c: c["stats"]["delivered"] >= 200 and c["state"] == "completed",
    )
    done = await broadcaster.campaign(user, campaign["id"])
    assert done["state"] == "completed"
    assert done["stats"]["failed"] == 0 and done["stats"]["skipped"] == 0

    senders: set[str] = set()
    for index, number in enumerate(numbers):
        received = await broadcaster.inbox(user, number)
        assert [m["text"] for m in received] == [f"Hello Friend {index}, number +{number}"], number
        senders.add(received[0]["from"].split("@")[0])
    assert senders == {first.phone, second.phone}
