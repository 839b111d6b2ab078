"""A real ``wagate serve`` killed with SIGKILL while deliveries are pending: after a
restart every event still reaches the receiver, in order once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases

RETRIES = ",".join(["0"] + ["0.3"] * 40)


async def link_session(
    http: httpx.AsyncClient, headers: dict[str, str], eventually: Any
) -> tuple[str, str]:
    created = await http.post("/api/v1/sessions", json={"name": "Shop"}, headers=headers)
    assert created.status_code == 201, created.text
    session_id = created.json()["data"]["sessionId"]
    phone = "15559990001"
    made = await http.post("/sandbox/v1/phones", json={"phone": phone}, headers=headers)
    assert made.status_code in (200, 201), made.text
    qr: dict[str, Any] = {}

    async def has_qr() -> bool:
        response = await http.get(f"/api/v1/sessions/{session_id}/qr", headers=headers)
        qr.update(response.json()["data"])
        return bool(qr.get("qrCode"))

    await eventually(has_qr, "a QR code")
    scanned = await http.post(
        f"/sandbox/v1/phones/{phone}/link", json={"qr": qr["qrCode"]}, headers=headers
    )
    assert scanned.status_code == 200, scanned.text

    async def connected() -> bool:
        response = await http.get(f"/api/v1/sessions/{session_id}/status", headers=headers)
        return bool(response.json()["data"]["state"] == "connected")

    await eventually(connected, "the session to connect")
    return session_id, phone


async def owed(http: httpx.AsyncClient, headers: dict[str, str], webhook_id: str) -> int:
    """How many deliveries the gateway has stored for a webhook: once an event
    is here, a crash cannot lose it (the sandbox phone's own outbox can)."""
    response = await http.get(
        f"/api/v1/webhooks/{webhook_id}/deliveries", params={"limit": 500}, headers=headers
    )
    return len(response.json()["data"]["deliveries"])


def hooked_gateway(gateway_process: Callable[..., Any]) -> Any:
    """A gateway whose webhooks retry fast and give up on a silent receiver soon."""
    return gateway_process(
        WAGATE_ALLOW_PRIVATE_URLS="true",
        WAGATE_WEBHOOK_RETRY_DELAYS=RETRIES,
        WAGATE_WEBHOOK_TIMEOUT="2",
        WAGATE_SANDBOX_QR_INTERVAL="5",
    )


async def send_to_hooked_session(
    http: httpx.AsyncClient,
    email: str,
    receiver: Any,
    customer: str,
    texts: list[str],
    eventually: Any,
) -> tuple[dict[str, str], str]:
    """A new user's linked session with a webhook to ``receiver``, sent ``texts`` by
    ``customer``; the user's headers and the webhook's id."""
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": "pw-123456789"}
    )
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Bearer {registered.json()['data']['token']}"}
    session_id, phone = await link_session(http, headers, eventually)
    hook = await http.post(
        "/api/v1/webhooks",
        json={"sessionId": session_id, "url": receiver.url, "events": ["message"]},
        headers=headers,
    )
    assert hook.status_code == 201, hook.text
    await http.post("/sandbox/v1/phones", json={"phone": customer}, headers=headers)
    for text in texts:
        sent = await http.post(
            f"/sandbox/v1/phones/{customer}/messages",
            json={"to": phone, "text": text},
            headers=headers,
        )
        assert sent.status_code == 201, sent.text
    return headers, hook.json()["data"]["webhookId"]


async def all_stored(
    http: httpx.AsyncClient, headers: dict[str, str], webhook_id: str, count: int, eventually: Any
) -> None:
    async def stored() -> bool:
        return await owed(http, headers, webhook_id) == count

    await eventually(stored, "every message to be stored for the webhook")


async def delivered_in_order(receiver: Any, texts: list[str]) -> None:
    """Each text arrives; at least once (a retry in flight at a kill may come again).
    After the first success (a probe), the rest go out in order from the oldest."""
    delivered: list[str] = []
    while len(set(delivered)) < len(texts):
        delivered.append((await receiver.next(timeout=30)).json["text"])
    first_success, *rest = list(dict.fromkeys(delivered))
    assert rest == [t for t in texts if t != first_success]


async def test_kill_9_with_deliveries_pending_loses_nothing(
    gateway_process: Callable[..., Any], make_receiver: Callable[..., Any], eventually: Any
) -> None:
    receiver = make_receiver()
    receiver.answer = lambda _: (503, {})
    await receiver.start()
    gateway = hooked_gateway(gateway_process)
    await asyncio.to_thread(gateway.start)
    texts = [f"before the crash {n}" for n in range(10)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        headers, webhook_id = await send_to_hooked_session(
            http, "k9@example.com", receiver, "15559990002", texts, eventually
        )
        # The oldest waits for its retry while later ones go out; three failed
        # events in a row and the endpoint counts as down.
        tried: list[str] = []
        while len(set(tried)) < 3:
            tried.append((await receiver.next()).json["text"])
        assert tried[0] == texts[0]
        await all_stored(http, headers, webhook_id, len(texts), eventually)

    await asyncio.to_thread(gateway.kill)
    receiver.answer = None  # the receiver recovers while the gateway is down
    while not receiver.received.empty():  # failed attempts from before the kill
        receiver.received.get_nowait()
    await asyncio.to_thread(gateway.start)
    await delivered_in_order(receiver, texts)
    await asyncio.to_thread(gateway.stop)


async def test_an_endpoint_that_answers_only_after_a_restart_gets_everything(
    gateway_process: Callable[..., Any], make_receiver: Callable[..., Any], eventually: Any
) -> None:
    """Down until the gateway restarts (a graceful one this time): after it,
    what was owed arrives, oldest first, nothing lost."""
    restarted = False
    receiver = make_receiver(answer=lambda _: (200, {}) if restarted else (503, {}))
    await receiver.start()
    gateway = hooked_gateway(gateway_process)
    await asyncio.to_thread(gateway.start)
    texts = [f"before the restart {n}" for n in range(5)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        headers, webhook_id = await send_to_hooked_session(
            http, "rs@example.com", receiver, "15559990003", texts, eventually
        )
        for _ in range(4):  # three events failed, then a probe: it is down
            await receiver.next()
        await all_stored(http, headers, webhook_id, len(texts), eventually)

    await asyncio.to_thread(gateway.stop)
    restarted = True
    while not receiver.received.empty():
        receiver.received.get_nowait()
    await asyncio.to_thread(gateway.start)
    await delivered_in_order(receiver, texts)
