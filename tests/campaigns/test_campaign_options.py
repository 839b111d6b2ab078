"""A campaign's delivery options on the real app and sandbox phones: a start
time, quiet hours, a daily cap, a number check first; results as CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from tests.campaigns.conftest import Broadcaster
from tests.conftest import TestUser


async def _setup(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any, phones: int
) -> tuple[Any, list[str], list[str], str]:
    linked = await session_tools.link(user.headers)
    numbers = await broadcaster.phones(user, phones)
    ids = await broadcaster.contacts(user, numbers)
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hi {{name}}")
    return linked, numbers, ids, template["id"]


async def test_a_scheduled_campaign_starts_at_its_time(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    linked, _numbers, ids, template_id = await _setup(broadcaster, user, session_tools, 2)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Later",
        templateId=template_id,
        sessionIds=[linked.session_id],
        contactIds=ids,
        ratePerMinute=0,
        scheduledAt=at.isoformat(),
        start=True,
    )
    assert campaign["state"] == "scheduled" and campaign["stats"]["pending"] == 2
    await broadcaster.wait_for(
        user, campaign["id"], "to complete", lambda c: c["stats"]["sent"] == 2
    )
    done = await broadcaster.campaign(user, campaign["id"])
    started = datetime.fromisoformat(done["startedAt"].replace("Z", "+00:00"))
    assert started >= at.replace(microsecond=(at.microsecond // 1000) * 1000)


async def test_quiet_hours_hold_sends_back(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any, app: FastAPI
) -> None:
    linked, numbers, ids, template_id = await _setup(broadcaster, user, session_tools, 2)
    now = datetime.now(UTC)
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Quiet",
        templateId=template_id,
        sessionIds=[linked.session_id],
        contactIds=ids,
        ratePerMinute=0,
        quietStart=(now - timedelta(hours=1)).strftime("%H:%M"),
        quietEnd=(now + timedelta(hours=1)).strftime("%H:%M"),
        timeZone="UTC",
        start=True,
    )
    await app.state.campaign_runner.run_once()  # a pass of its own: nothing goes out
    held = await broadcaster.campaign(user, campaign["id"])
    assert held["state"] == "running" and held["stats"]["pending"] == 2
    assert all([await broadcaster.inbox(user, n) == [] for n in numbers])


async def test_a_daily_cap_stops_a_session_for_the_day(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any, app: FastAPI
) -> None:
    linked, numbers, ids, template_id = await _setup(broadcaster, user, session_tools, 3)
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Capped",
        templateId=template_id,
        sessionIds=[linked.session_id],
        contactIds=ids,
        ratePerMinute=0,
        dailyCap=2,
        timeZone="Asia/Kolkata",
        start=True,
    )
    await broadcaster.wait_for(user, campaign["id"], "two sends", lambda c: c["stats"]["sent"] == 2)
    await app.state.campaign_runner.run_once()
    capped = await broadcaster.campaign(user, campaign["id"])
    assert capped["stats"]["pending"] == 1 and capped["state"] == "running"
    assert sum([len(await broadcaster.inbox(user, n)) for n in numbers]) == 2


async def test_numbers_not_on_whatsapp_are_skipped_and_results_export(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    linked, numbers, ids, template_id = await _setup(broadcaster, user, session_tools, 1)
    stranger = await broadcaster.post(user, "/contacts", 201, phone="+15557654321", name="Nobody")
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Checked",
        templateId=template_id,
        sessionIds=[linked.session_id],
        contactIds=[*ids, stranger["id"]],
        ratePerMinute=0,
        checkNumbers=True,
        typingMs=50,
        start=True,
    )
    await broadcaster.wait_for(
        user,
        campaign["id"],
        "to complete with no message waiting in the queue",
        lambda c: c["state"] == "completed" and c["stats"]["queued"] == 0,
    )
    done = await broadcaster.campaign(user, campaign["id"])
    assert done["stats"]["skipped"] == 1
    response = await broadcaster.client.get(
        f"/api/v1/broadcast/campaigns/{campaign['id']}/results.csv", headers=user.headers
    )
    assert response.status_code == 200, response.text
    rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert rows["+15557654321"]["status"] == "skipped"
    assert rows["+15557654321"]["reason"] == "not on WhatsApp"
    assert rows[f"+{numbers[0]}"]["status"] in ("sent", "delivered", "read")
    assert rows[f"+{numbers[0]}"]["message_id"]


async def test_bad_delivery_options_are_refused(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    linked, _numbers, ids, template_id = await _setup(broadcaster, user, session_tools, 1)
    base = {
        "name": "x",
        "templateId": template_id,
        "sessionIds": [linked.session_id],
        "contactIds": ids,
    }
    for extra, words in (
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"quietStart": "25:00", "quietEnd": "06:00"}, "quietStart"),
        ({"quietStart": "22:00"}, "together"),
    ):
        refused = await broadcaster.post(user, "/campaigns", 400, **base, **extra)
        assert words in refused["error"]["message"], refused


async def test_session_weights_share_the_round_robin(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    heavy = await session_tools.link(user.headers, "Heavy")
    light = await session_tools.link(user.headers, "Light")
    numbers = await broadcaster.phones(user, 8)
    ids = await broadcaster.contacts(user, numbers)
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hi {{name}}")
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="Weighted",
        templateId=template["id"],
        sessionIds=[heavy.session_id, light.session_id],
        sessionWeights=[3, 1],
        contactIds=ids,
        ratePerMinute=0,
        start=True,
    )
    assert campaign["sessionWeights"] == {heavy.session_id: 3, light.session_id: 1}
    await broadcaster.wait_for(
        user, campaign["id"], "to complete", lambda c: c["stats"]["sent"] == 8
    )
    by_session = Counter(r["sessionId"] for r in await broadcaster.recipients(user, campaign["id"]))
    assert by_session == {heavy.session_id: 6, light.session_id: 2}


async def test_a_csv_file_as_a_drafts_audience(
    broadcaster: Broadcaster, user: TestUser, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    numbers = await broadcaster.phones(user, 2)
    template = await broadcaster.post(user, "/templates", 201, name="T", body="Hi {{name}}")
    campaign = await broadcaster.post(
        user,
        "/campaigns",
        201,
        name="From a file",
        templateId=template["id"],
        sessionIds=[linked.session_id],
        tags=["nobody-yet"],
        ratePerMinute=0,
    )
    body = "phone,name\n" + "".join(f"+{n},File {i}\n" for i, n in enumerate(numbers)) + "junk,x\n"
    added = await broadcaster.client.post(
        "/api/v1/broadcast/campaigns/audience",
        params={"campaignId": campaign["id"]},
        content=body.encode(),
        headers={**user.headers, "content-type": "text/csv"},
    )
    assert added.status_code == 200, added.text
    assert added.json()["data"]["imported"] == 2 and added.json()["data"]["rejectedCount"] == 1
    started = await broadcaster.post(user, f"/campaigns/{campaign['id']}/start")
    assert started["stats"]["total"] == 2
    await broadcaster.wait_for(
        user, campaign["id"], "to complete", lambda c: c["stats"]["sent"] == 2
    )
    assert [m["text"] for m in await broadcaster.inbox(user, numbers[1])] == ["Hi File 1"]
    again = await broadcaster.client.post(
        "/api/v1/broadcast/campaigns/audience",
        params={"campaignId": campaign["id"]},
        content=body.encode(),
        headers={**user.headers, "content-type": "text/csv"},
    )
    assert again.status_code == 409, again.text
