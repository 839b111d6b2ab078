"""The send queue survives ``kill -9``: every accepted message reaches the phone
exactly once after the gateway comes back.

The gateway and the sandbox network run as separate processes, so killing the
gateway loses nothing but the gateway.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

TOTAL = 500


def _poll(check: Any, what: str, timeout: float = 60.0) -> Any:
    """Another process's state can only be observed by asking it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _phone_texts(http: httpx.Client, headers: dict[str, str], phone: str) -> list[str]:
    response = http.get(f"/sandbox/v1/phones/{phone}/messages?limit=1000", headers=headers)
    return [m["text"] for m in response.json()["data"]["messages"] if m["direction"] == "in"]


def test_kill_dash_nine_with_500_queued_sends_each_exactly_once(
    gateway_process: Any, sandbox_process: Any
) -> None:
    env = {
        "WAGATE_SANDBOX_URL": sandbox_process.url,
        "WAGATE_SEND_WAIT_SECONDS": "0",
        "WAGATE_SEND_RATE_PER_MINUTE": "3000",
    }
    gateway = gateway_process(**env)
    gateway.start()
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        token = http.post(
            "/api/v1/auth/register",
            json={"email": "durable@example.com", "password": "durable-pass-1"},
        ).json()["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        session = http.post("/api/v1/sessions", json={"name": "bulk"}, headers=auth).json()["data"]
        for phone in ("15557770001", "15557770002"):
            http.post("/sandbox/v1/phones", json={"phone": phone}, headers=auth)
        qr = _poll(
            lambda: http.get(f"/api/v1/sessions/{session['sessionId']}/qr", headers=auth).json()[
                "data"
            ]["qrCode"],
            "a QR code",
        )
        http.post("/sandbox/v1/phones/15557770001/link", json={"qr": qr}, headers=auth)
        _poll(
            lambda: http.get(
                f"/api/v1/sessions/{session['sessionId']}/status", headers=auth
            ).json()["data"]["connected"],
            "the session to connect",
        )

        key = {"x-api-key": session["apiKey"]}

        def send(index: int) -> str:
            response = http.post(
                "/api/v1/messages/send",
                json={"to": "15557770002", "text": f"bulk {index}"},
                headers=key,
            )
            assert response.status_code == 200, response.text
            status: str = response.json()["data"]["status"]
            return status

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(send, range(TOTAL)))
        assert Counter(statuses)["queued"] > TOTAL // 2  # most are still waiting
        _poll(lambda: len(_phone_texts(http, auth, "15557770002")) >= 20, "the queue to drain")
    gateway.kill()

    gateway.start()
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        token = http.post(
            "/api/v1/auth/login",
            json={"email": "durable@example.com", "password": "durable-pass-1"},
        ).json()["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        texts = _poll(
            lambda: (t := _phone_texts(http, auth, "15557770002")) and len(t) >= TOTAL and t,
            f"all {TOTAL} messages",
        )
        counts = Counter(texts)
        assert len(counts) == TOTAL
        assert max(counts.values()) == 1, [t for t, n in counts.items() if n > 1][:5]
        key = {"x-api-key": session["apiKey"]}

        def all_acknowledged() -> bool:
            history = http.get("/api/v1/messages/history?limit=500", headers=key).json()
            statuses = Counter(m["status"] for m in history["data"]["messages"])
            return sum(statuses[s] for s in ("sent", "delivered", "read")) == TOTAL

        _poll(all_acknowledged, "every message to be recorded as sent")
