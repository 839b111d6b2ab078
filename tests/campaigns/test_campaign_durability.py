"""A campaign survives ``kill -9`` of the gateway: after the restart it
completes, and every recipient has exactly one message (no duplicate, no gap).
The gateway and the sandbox network run as separate processes."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

RECIPIENTS = 40


def _poll(check: Any, what: str, timeout: float = 60.0) -> Any:
    """Another process's state can only be observed by asking it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _login(http: httpx.Client) -> dict[str, str]:
    token = http.post(
        "/api/v1/auth/login", json={"email": "camp@example.com", "password": "campaign-pass-1"}
    ).json()["data"]["token"]
    return {"Authorization": f"Bearer {token}"}


def test_kill_dash_nine_mid_campaign_then_restart_sends_each_once(
    gateway_process: Any, sandbox_process: Any
) -> None:
    gateway = gateway_process(WAGATE_SANDBOX_URL=sandbox_process.url)
    gateway.start()
    phones = [f"1555888{i:04d}" for i in range(RECIPIENTS)]
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        http.post(
            "/api/v1/auth/register",
            json={"email": "camp@example.com", "password": "campaign-pass-1"},
        )
        auth = _login(http)
        session = http.post("/api/v1/sessions", json={"name": "c"}, headers=auth).json()["data"]
        for phone in ["15558889999", *phones]:
            http.post("/sandbox/v1/phones", json={"phone": phone}, headers=auth)
        qr = _poll(
            lambda: http.get(f"/api/v1/sessions/{session['sessionId']}/qr", headers=auth).json()[
                "data"
            ]["qrCode"],
            "a QR code",
        )
        http.post("/sandbox/v1/phones/15558889999/link", json={"qr": qr}, headers=auth)
        _poll(
            lambda: http.get(
                f"/api/v1/sessions/{session['sessionId']}/status", headers=auth
            ).json()["data"]["connected"],
            "the session to connect",
        )
        for phone in phones:
            http.post(
                "/api/v1/broadcast/contacts",
                json={"phone": f"+{phone}", "tags": ["all"]},
                headers=auth,
            )
        template = http.post(
            "/api/v1/broadcast/templates", json={"name": "t", "body": "Hi {{phone}}"}, headers=auth
        ).json()["data"]
        campaign = http.post(
            "/api/v1/broadcast/campaigns",
            json={
                "name": "durable",
                "templateId": template["id"],
                "sessionIds": [session["sessionId"]],
                "tags": ["all"],
                "ratePerMinute": 600,  # one every 100 ms: the kill lands mid-campaign
                "jitterSeconds": 0,
                "start": True,
            },
            headers=auth,
        ).json()["data"]
        url = f"/api/v1/broadcast/campaigns/{campaign['id']}"
        before = _poll(
            lambda: (c := http.get(url, headers=auth).json()["data"])["stats"]["sent"] >= 5 and c,
            "the first sends",
        )
        assert before["stats"]["pending"] > 0  # the kill lands mid-campaign
    gateway.kill()

    gateway.start()
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        auth = _login(http)
        done = _poll(
            lambda: (
                (c := http.get(url, headers=auth).json()["data"])["state"] == "completed"
                and c["stats"]["sent"] == RECIPIENTS
                and c
            ),
            "the campaign to complete after the restart",
        )
        assert done["stats"]["failed"] == 0
        texts: list[str] = []
        for phone in phones:
            messages = http.get(f"/sandbox/v1/phones/{phone}/messages", headers=auth).json()
            texts += [m["text"] for m in messages["data"]["messages"] if m["direction"] == "in"]
        counts = Counter(texts)
        assert sorted(counts) == sorted(f"Hi +{phone}" for phone in phones)
        assert max(counts.values()) == 1, [t for t, n in counts.items() if n > 1]
