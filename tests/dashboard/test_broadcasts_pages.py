"""The Broadcasts page as a browser drives it: import a CSV, write a template,
start a campaign through a sandbox session and watch it reach 100%."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tests.dashboard.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


async def test_import_template_campaign_and_live_progress(
    client: httpx.AsyncClient,
    dashboard_login: Callable[..., Awaitable[str]],
    session_tools: Any,
    wait_until: Any,
) -> None:
    login = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['data']['token']}"}
    linked = await session_tools.link(headers, "Shop")
    phones = [await session_tools.phone(headers, autoRead=True) for _ in range(3)]
    csrf = await dashboard_login()

    csv_body = "phone,name,tags\n" + "".join(
        f"+{p},Friend {i},spring\n" for i, p in enumerate(phones)
    )
    imported = await client.post(
        "/dashboard/broadcasts/contacts/import",
        data={"csrf_token": csrf},
        files={"file": ("contacts.csv", csv_body.encode(), "text/csv")},
    )
    assert imported.status_code == 303, imported.text
    page = await client.get("/dashboard/broadcasts")
    assert "Imported 3, updated 0, rejected 0" in page.text
    assert f"+{phones[0]}" in page.text

    # The editor's live preview, as its script calls it.
    preview_headers = {"x-csrf-token": csrf, "accept": "application/json"}
    preview = await client.post(
        "/dashboard/broadcasts/templates/preview",
        data={"body": "Hi {{name}}, spring is here"},
        headers=preview_headers,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"text": "Hi Friend 0, spring is here"}
    missing = await client.post(
        "/dashboard/broadcasts/templates/preview",
        data={"body": "Hi {{name}} in {{city}}"},
        headers=preview_headers,
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "Missing template variable: city"

    saved = await client.post(
        "/dashboard/broadcasts/templates",
        data={"csrf_token": csrf, "name": "Spring", "body": "Hi {{name}}, spring is here"},
    )
    assert saved.status_code == 303
    page = await client.get("/dashboard/broadcasts")
    [template_id] = re.findall(r'<option value="([0-9a-f-]{36})">Spring</option>', page.text)

    started = await client.post(
        "/dashboard/broadcasts/campaigns",
        data={
            "csrf_token": csrf,
            "name": "Spring sale",
            "template_id": template_id,
            "session_ids": [linked.session_id],
            "tags": "spring",
            "rate_per_minute": "0",
        },
    )
    assert started.status_code == 303, started.text
    progress: dict[str, str] = {}

    async def complete() -> bool:
        card = await client.get("/dashboard/broadcasts/campaigns")
        assert card.status_code == 200
        progress["text"] = card.text
        return "100%" in card.text and "read 3" in card.text

    await wait_until(complete, 30, "the campaign card to show 100% and 3 read")
    assert "completed" in progress["text"]
    assert "delivery rate 100.0%" in progress["text"]
    for index, phone in enumerate(phones):
        inbox = await client.get(f"/sandbox/v1/phones/{phone}/messages", headers=headers)
        texts = [m["text"] for m in inbox.json()["data"]["messages"]]
        assert texts == [f"Hi Friend {index}, spring is here"]


async def test_a_campaign_form_without_an_audience_is_refused(
    client: httpx.AsyncClient, dashboard_login: Callable[..., Awaitable[str]]
) -> None:
    csrf = await dashboard_login()
    refused = await client.post(
        "/dashboard/broadcasts/campaigns",
        data={"csrf_token": csrf, "name": "x", "template_id": "nope", "session_ids": ["x"]},
        headers={"referer": "http://wagate.test/dashboard/broadcasts"},
    )
    assert refused.status_code == 303
    page = await client.get(refused.headers["location"])
    assert "name at least one tag" in page.text
