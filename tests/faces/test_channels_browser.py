"""The seed's example page (``fixtures/channel_manager.html``, verbatim but for
its channel id and key) served from the gateway's origin and opened in
headless Chromium: a person logged in to the dashboard clicks Connect (the
page's fetch carries only the login cookie), the QR image appears over
Socket.IO, a sandbox phone scans it, and the status turns ``active``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from tests.dashboard.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.faces.channels_tools import Channels
from tests.faces.test_channels_socket import qr_text
from tests.live.test_events_stream import SLOW_QR

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")

SEED_PAGE = Path(__file__).parent / "fixtures" / "channel_manager.html"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**SLOW_QR, "socketio_ping_interval": 1.0, "socketio_ping_timeout": 3.0}


async def test_the_seeds_example_page_shows_the_qr_and_the_status(
    app: FastAPI,
    client: httpx.AsyncClient,
    ws_base: str,
    session_tools: Any,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    login = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    token = login.json()["data"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    channel_id = (await Channels(client, wait_until).create(headers))["channelId"]
    page_html = (
        SEED_PAGE.read_text().replace("your-channel-id", channel_id).replace("your-api-key", token)
    )

    @app.get("/example/channel-manager.html", include_in_schema=False)
    async def example_page() -> HTMLResponse:
        return HTMLResponse(page_html)

    base = ws_base.replace("ws://", "http://")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(base_url=base)).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto("/")
            await page.fill("input[name=email]", ADMIN_EMAIL)
            await page.fill("input[name=password]", ADMIN_PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(re.compile(r"/dashboard/"))

            await page.goto("/example/channel-manager.html")
            expect = playwright_api.expect
            await expect(page.locator("#status")).to_have_text("inactive")
            await page.click("text=Connect")
            await expect(page.locator("#qr-section")).to_be_visible()
            code = qr_text(await page.locator("#qr-code").get_attribute("src") or "")
            phone = await session_tools.phone(headers)
            scanned = await client.post(
                f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=headers
            )
            assert scanned.status_code == 200, scanned.text
            await expect(page.locator("#status")).to_have_text("active")
            await expect(page.locator("#qr-section")).to_be_hidden()
            assert errors == []
        finally:
            await browser.close()
