"""``wagate demo``: the whole path against a running server, one printed step at a time.

Create a session, let a sandbox phone scan its QR, then message both ways and
watch the receipts. Everything goes through the public HTTP API, so it doubles
as a worked example for a client.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


class DemoError(RuntimeError):
    pass


def _data(response: httpx.Response) -> Any:
    body = response.json()
    if not body.get("success"):
        raise DemoError(f"{response.request.method} {response.request.url.path}: {body}")
    return body.get("data", body)


def _until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll a remote server (a demo has no event stream to await)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise DemoError(f"timed out waiting for {what}")


def admin_login_from(data_dir: Path) -> tuple[str, str] | None:
    saved = data_dir / "admin-password.txt"
    if not saved.exists():
        return None
    email, password = saved.read_text().split()[:2]
    return email, password


def run_demo(base_url: str, email: str, password: str, say: Callable[[str], None] = print) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        say(f"1. log in as {email}")
        token = _data(http.post("/api/v1/auth/login", json={"email": email, "password": password}))[
            "token"
        ]
        auth = {"Authorization": f"Bearer {token}"}

        say("2. create a session")
        session = _data(http.post("/api/v1/sessions", json={"name": "Demo shop"}, headers=auth))
        session_id, api_key = session["sessionId"], session["apiKey"]
        say(f"   sessionId={session_id}  apiKey={api_key[:8]}… (shown once)")

        business = str(random.randint(15550100000, 15550199999))  # noqa: S311
        customer = str(random.randint(15550200000, 15550299999))  # noqa: S311
        say(f"3. two sandbox phones: the business {business} and a customer {customer}")
        http.post("/sandbox/v1/phones", json={"phone": business, "name": "Demo Shop"}, headers=auth)
        http.post(
            "/sandbox/v1/phones",
            json={"phone": customer, "name": "Customer", "autoRead": True},
            headers=auth,
        )

        qr = _until(
            lambda: _data(http.get(f"/api/v1/sessions/{session_id}/qr", headers=auth))["qrCode"],
            "a QR code",
        )
        say(f"4. the session shows a QR code ({qr[:24]}…); the business phone scans it")
        _data(http.post(f"/sandbox/v1/phones/{business}/link", json={"qr": qr}, headers=auth))
        status = _until(
            lambda: (
                (s := _data(http.get(f"/api/v1/sessions/{session_id}/status", headers=auth)))[
                    "connected"
                ]
                and s
            ),
            "the session to connect",
        )
        say(f"   connected as {status['phoneNumber']}")

        say("5. the customer writes to the business")
        _data(
            http.post(
                f"/sandbox/v1/phones/{customer}/messages",
                json={"to": business, "text": "Hi! Is the blue one in stock?"},
                headers=auth,
            )
        )
        key = {"x-api-key": api_key}
        incoming = _until(
            lambda: _data(http.get("/api/v1/messages/history?direction=in", headers=key))[
                "messages"
            ],
            "the incoming message",
        )
        say(f"   the gateway received: {incoming[0]['text']!r} from {incoming[0]['from_number']}")

        say("6. the business answers through the API")
        sent = _data(
            http.post(
                "/api/v1/messages/send",
                json={"to": customer, "text": "Yes, 3 left. Shall I reserve one?"},
                headers=key,
            )
        )
        say(f"   messageId={sent['messageId']} status={sent['status']}")
        final = _until(
            lambda: (
                (m := _data(http.get(f"/api/v1/messages/{sent['messageId']}", headers=key)))[
                    "status"
                ]
                == "read"
                and m
            ),
            "the read receipt",
        )
        path = " → ".join(step["status"] for step in final["statusHistory"])
        say(f"   the customer's phone read it: {path}")
        say(f"Done. Open {base_url}/docs to explore the API.")
