"""The broadcast pages over HTTP, as a browser without JavaScript (and the pages'
own fetch calls) use them: accounts at /whatsapp, contacts with a CSV import,
templates with a live preview, the campaign wizard, a campaign's live progress,
and the broadcast step; another user's things are 404 and a form without its
CSRF token is refused."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.dashboard.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

Login = Callable[..., Awaitable[str]]
JSON = {"accept": "application/json"}


async def _admin(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    return {"Authorization": f"Bearer {login.json()['data']['token']}"}


async def _progress(client: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    response = await client.get(f"/dashboard/broadcasts/campaigns/{campaign_id}/progress")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.both_databases
async def test_import_template_wizard_and_live_progress(
    client: httpx.AsyncClient, dashboard_login: Login, session_tools: Any, wait_until: Any
) -> None:
    headers = await _admin(client)
    linked = await session_tools.link(headers, "Shop")
    phones = [await session_tools.phone(headers, autoRead=True) for _ in range(3)]
    csrf = await dashboard_login()

    # The accounts grid says "Online" for the connected account.
    accounts = await client.get("/whatsapp")
    assert accounts.status_code == 200
    assert re.search(rf'id="account-{linked.session_id}".*?>Online<', accounts.text, re.S)

    # The import as the page's script sends it: the report comes back as JSON.
    csv_body = "phone,name,tags,city\n" + "".join(
        f"+{p},Friend {i},spring,Lisbon\n" for i, p in enumerate(phones)
    )
    csv_body += "not a number,Nobody,spring,\n"
    imported = await client.post(
        "/dashboard/broadcasts/contacts/import",
        files={"file": ("contacts.csv", csv_body.encode(), "text/csv")},
        headers={"x-csrf-token": csrf, **JSON},
    )
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["imported"], report["updated"], report["rejectedCount"]) == (3, 0, 1)
    assert report["rejected"][0]["line"] == 5
    listing = await client.get("/dashboard/broadcasts/contacts?tag=spring")
    assert listing.status_code == 200
    assert all(f"+{p}" in listing.text for p in phones)
    assert 'spring <span class="muted">3</span>' in listing.text
    assert "city: Lisbon" in listing.text

    # The editor's live preview, as its script calls it.
    preview_headers = {"x-csrf-token": csrf, **JSON}
    preview = await client.post(
        "/dashboard/broadcasts/templates/preview",
        data={"body": "Hi {{name}} in {{city}}"},
        headers=preview_headers,
    )
    assert preview.json() == {"text": "Hi Friend 0 in Lisbon"}
    missing = await client.post(
        "/dashboard/broadcasts/templates/preview",
        data={"body": "Hi {{name}} at {{shop}}"},
        headers=preview_headers,
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "Missing template variable: shop"
    saved = await client.post(
        "/dashboard/broadcasts/templates",
        data={"csrf_token": csrf, "name": "Spring", "body": "Hi {{name}} in {{city}}"},
    )
    assert saved.status_code == 303

    # The wizard lists the template, the tag and the account; its form starts the campaign.
    wizard = await client.get("/dashboard/broadcasts/campaigns/new")
    assert wizard.status_code == 200
    [template_id] = re.findall(r'name="template_id" value="([0-9a-f-]{36})"', wizard.text)
    assert 'name="tags" value="spring"' in wizard.text
    assert f'name="session_ids" value="{linked.session_id}" checked' in wizard.text
    started = await client.post(
        "/dashboard/broadcasts/campaigns",
        data={
            "csrf_token": csrf,
            "name": "Spring sale",
            "template_id": template_id,
            "tags": ["spring"],
            "session_ids": [linked.session_id],
            f"weight-{linked.session_id}": "1",
            "rate_per_minute": "0",
            "jitter_seconds": "0",
            "when": "now",
        },
    )
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    campaign_id = location.rsplit("/", 1)[1]
    page = await client.get(location)
    assert page.status_code == 200
    assert "Spring sale" in page.text and "data-rate-chart" in page.text

    seen: dict[str, Any] = {}

    async def complete() -> bool:
        seen.update(await _progress(client, campaign_id))
        # The phones may read before the runner's next pass marks it completed.
        return seen["percent"] == 100 and seen["read"] == 3 and seen["state"] == "completed"

    await wait_until(complete, 30, f"the campaign to complete at 100% with 3 read ({seen})")
    assert (seen["deliveryRate"], seen["readRate"]) == (1.0, 1.0)
    assert seen["timeline"][-1]["readRate"] == 1.0
    for index, phone in enumerate(phones):
        inbox = await client.get(f"/sandbox/v1/phones/{phone}/messages", headers=headers)
        assert [m["text"] for m in inbox.json()["data"]["messages"]] == [
            f"Hi Friend {index} in Lisbon"
        ]
    listed = await client.get("/dashboard/broadcasts")
    assert "Spring sale" in listed.text and "100%" in listed.text
    results = await client.get(f"/dashboard/broadcasts/campaigns/{campaign_id}/results.csv")
    assert results.status_code == 200
    assert results.text.count(",read,") == 3


async def test_a_csv_audience_saved_as_a_draft_is_sent_from_the_broadcast_page(
    client: httpx.AsyncClient, dashboard_login: Login, session_tools: Any, wait_until: Any
) -> None:
    headers = await _admin(client)
    linked = await session_tools.link(headers, "Shop")
    phones = [await session_tools.phone(headers) for _ in range(2)]
    csrf = await dashboard_login()
    template = await client.post(
        "/api/v1/broadcast/templates", json={"name": "T", "body": "Hello {{name}}"}, headers=headers
    )
    csv_body = "phone,name\n" + "".join(f"+{p},P{i}\n" for i, p in enumerate(phones))
    drafted = await client.post(
        "/dashboard/broadcasts/campaigns",
        data={
            "csrf_token": csrf,
            "name": "From a file",
            "template_id": template.json()["data"]["id"],
            "session_ids": [linked.session_id],
            "rate_per_minute": "0",
            "when": "draft",
        },
        files={"file": ("list.csv", csv_body.encode(), "text/csv")},
    )
    assert drafted.status_code == 303, drafted.text
    assert drafted.headers["location"] == "/dashboard/broadcasts/broadcast"
    page = await client.get("/dashboard/broadcasts/broadcast")
    assert "CSV: imported 2, updated 0, rejected 0" in page.text
    [draft_id] = re.findall(r'data-draft="([0-9a-f-]{36})"', page.text)

    refused = await client.post(
        f"/dashboard/broadcasts/broadcast/{draft_id}",
        data={"csrf_token": csrf},
        headers={"referer": "http://wagate.test/dashboard/broadcasts/broadcast"},
    )
    assert refused.status_code == 303
    assert "choose at least one account" in (await client.get(refused.headers["location"])).text

    sent = await client.post(
        f"/dashboard/broadcasts/broadcast/{draft_id}",
        data={"csrf_token": csrf, "session_ids": [linked.session_id]},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/dashboard/broadcasts/campaigns/{draft_id}"
    seen: dict[str, Any] = {}

    async def delivered() -> bool:
        seen.update(await _progress(client, draft_id))
        return seen["percent"] == 100 and seen["delivered"] == 2

    await wait_until(delivered, 30, f"the draft's campaign to deliver to 2 ({seen})")


async def test_the_wizard_refuses_a_campaign_without_an_audience(
    client: httpx.AsyncClient, dashboard_login: Login, session_tools: Any
) -> None:
    headers = await _admin(client)
    linked = await session_tools.link(headers, "Shop")
    csrf = await dashboard_login()
    template = await client.post(
        "/api/v1/broadcast/templates", json={"name": "T", "body": "Hi"}, headers=headers
    )
    refused = await client.post(
        "/dashboard/broadcasts/campaigns",
        data={
            "csrf_token": csrf,
            "name": "x",
            "template_id": template.json()["data"]["id"],
            "session_ids": [linked.session_id],
        },
        headers={"referer": "http://wagate.test/dashboard/broadcasts/campaigns/new"},
    )
    assert refused.status_code == 303
    page = await client.get(refused.headers["location"])
    assert "an audience is required" in page.text
    listed = await client.get("/dashboard/broadcasts")
    assert "No campaigns yet" in listed.text


async def test_connect_account_answers_the_account_for_the_modal(
    client: httpx.AsyncClient, dashboard_login: Login
) -> None:
    anonymous = await client.get("/whatsapp")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/?next=/whatsapp"
    csrf = await dashboard_login()
    answer = await client.post(
        "/whatsapp/accounts",
        data={"phone_number": "+1 555 010 2030"},
        headers={"x-csrf-token": csrf, **JSON},
    )
    assert answer.status_code == 200, answer.text
    account = answer.json()
    assert account["name"] == "+15550102030"
    page = await client.get("/whatsapp")
    assert f'id="account-{account["accountId"]}"' in page.text
    assert "+15550102030" in page.text
    bad = await client.post(
        "/whatsapp/accounts",
        data={"phone_number": "call me"},
        headers={"x-csrf-token": csrf, **JSON},
    )
    assert bad.status_code == 400
    assert "phoneNumber" in bad.json()["error"]["message"]


async def test_another_users_contacts_templates_and_campaigns_are_404(
    client: httpx.AsyncClient, dashboard_login: Login, make_user: Any, session_tools: Any
) -> None:
    owner = await make_user()
    contact = await client.post(
        "/api/v1/broadcast/contacts",
        json={"phone": "+15550107777", "name": "Secret friend", "tags": ["vip"]},
        headers=owner.headers,
    )
    contact_id = contact.json()["data"]["id"]
    template = await client.post(
        "/api/v1/broadcast/templates",
        json={"name": "Secret template", "body": "Hi {{name}}"},
        headers=owner.headers,
    )
    template_id = template.json()["data"]["id"]
    session = await session_tools.create(owner.headers, "Secret shop")
    campaign = await client.post(
        "/api/v1/broadcast/campaigns",
        json={
            "name": "Secret campaign",
            "templateId": template_id,
            "sessionIds": [session["sessionId"]],
            "tags": ["vip"],
        },
        headers=owner.headers,
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["data"]["id"]

    intruder = await make_user()
    csrf = await dashboard_login(intruder.email, intruder.password)
    for path in (
        "/whatsapp",
        "/dashboard/broadcasts",
        "/dashboard/broadcasts/contacts",
        "/dashboard/broadcasts/templates",
        "/dashboard/broadcasts/campaigns/new",
        "/dashboard/broadcasts/broadcast",
    ):
        page = await client.get(path)
        assert page.status_code == 200, path
        for secret in ("Secret friend", "Secret template", "Secret campaign", "Secret shop"):
            assert secret not in page.text, (path, secret)
    for path in (
        f"/dashboard/broadcasts/contacts/{contact_id}",
        f"/dashboard/broadcasts/templates/{template_id}",
        f"/dashboard/broadcasts/campaigns/{campaign_id}",
        f"/dashboard/broadcasts/campaigns/{campaign_id}/progress",
        f"/dashboard/broadcasts/campaigns/{campaign_id}/results.csv",
        "/dashboard/broadcasts/campaigns/not-a-uuid",
    ):
        page = await client.get(path)
        assert page.status_code == 404, path
        assert "Secret" not in page.text, path
    for path, data in (
        (f"/dashboard/broadcasts/contacts/{contact_id}", {"name": "Mine now"}),
        (f"/dashboard/broadcasts/contacts/{contact_id}/delete", {}),
        (f"/dashboard/broadcasts/templates/{template_id}", {"name": "x", "body": "y"}),
        (f"/dashboard/broadcasts/templates/{template_id}/delete", {}),
        (f"/dashboard/broadcasts/campaigns/{campaign_id}/cancel", {}),
        (f"/dashboard/broadcasts/broadcast/{campaign_id}", {"session_ids": ["x"]}),
        (f"/whatsapp/accounts/{session['sessionId']}/disconnect", {}),
    ):
        refused = await client.post(path, data={"csrf_token": csrf, **data})
        assert refused.status_code == 404, path
    # A campaign through the intruder's wizard cannot use the owner's template or session.
    wizard = await client.post(
        "/dashboard/broadcasts/campaigns",
        data={
            "csrf_token": csrf,
            "name": "x",
            "template_id": template_id,
            "session_ids": [session["sessionId"]],
            "tags": ["vip"],
        },
    )
    assert wizard.status_code == 404
    still = await client.get(f"/api/v1/broadcast/campaigns/{campaign_id}", headers=owner.headers)
    assert still.json()["data"]["state"] == "draft"
    mine = await client.get(f"/api/v1/broadcast/contacts/{contact_id}", headers=owner.headers)
    assert mine.json()["data"]["name"] == "Secret friend"


async def test_every_broadcast_form_needs_its_csrf_token(
    client: httpx.AsyncClient, dashboard_login: Login
) -> None:
    await dashboard_login()
    some = "00000000-0000-4000-8000-000000000000"
    for path in (
        "/whatsapp/accounts",
        f"/whatsapp/accounts/{some}/disconnect",
        "/dashboard/broadcasts/contacts",
        "/dashboard/broadcasts/contacts/import",
        f"/dashboard/broadcasts/contacts/{some}",
        f"/dashboard/broadcasts/contacts/{some}/delete",
        "/dashboard/broadcasts/templates",
        "/dashboard/broadcasts/templates/preview",
        f"/dashboard/broadcasts/templates/{some}",
        f"/dashboard/broadcasts/templates/{some}/delete",
        "/dashboard/broadcasts/campaigns",
        f"/dashboard/broadcasts/campaigns/{some}/pause",
        f"/dashboard/broadcasts/broadcast/{some}",
    ):
        refused = await client.post(path, data={"name": "x", "phone_number": "+15550001111"})
        assert refused.status_code == 403, path
        wrong = await client.post(path, data={"csrf_token": "forged"})
        assert wrong.status_code == 403, path


async def test_the_wizard_schedules_a_campaign_in_its_time_zone(
    client: httpx.AsyncClient, dashboard_login: Login, session_tools: Any
) -> None:
    headers = await _admin(client)
    linked = await session_tools.link(headers, "Shop")
    csrf = await dashboard_login()
    template = await client.post(
        "/api/v1/broadcast/templates", json={"name": "T", "body": "Hi"}, headers=headers
    )
    await client.post(
        "/api/v1/broadcast/contacts",
        json={"phone": "+15550108888", "tags": ["later"]},
        headers=headers,
    )
    form = {
        "csrf_token": csrf,
        "name": "Next year",
        "template_id": template.json()["data"]["id"],
        "session_ids": [linked.session_id],
        "tags": ["later"],
        "when": "later",
        "time_zone": "Asia/Kolkata",
        "quiet_start": "21:00",
        "quiet_end": "09:00",
        "daily_cap": "100",
    }
    back = {"referer": "http://wagate.test/dashboard/broadcasts/campaigns/new"}
    refused = await client.post("/dashboard/broadcasts/campaigns", data=form, headers=back)
    assert refused.status_code == 303
    assert "choose when it starts" in (await client.get(refused.headers["location"])).text

    scheduled = await client.post(
        "/dashboard/broadcasts/campaigns", data={**form, "scheduled_at": "2099-01-02T09:30"}
    )
    assert scheduled.status_code == 303, scheduled.text
    campaign_id = scheduled.headers["location"].rsplit("/", 1)[1]
    stored = await client.get(f"/api/v1/broadcast/campaigns/{campaign_id}", headers=headers)
    data = stored.json()["data"]
    assert data["state"] == "scheduled"
    assert data["scheduledAt"].startswith("2099-01-02T04:00:00")  # 09:30 in Kolkata
    assert (data["quietStart"], data["quietEnd"], data["dailyCap"]) == ("21:00", "09:00", 100)
    page = await client.get(scheduled.headers["location"])
    assert 'data-live="true"' in page.text and "scheduled" in page.text
