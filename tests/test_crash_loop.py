"""The crash loop: a real ``wagate serve`` killed with SIGKILL every few seconds
while clients send through its API and sandbox phones write in, then an
invariant checker over everything that happened.

The sandbox network runs as its own process, so its phones (and their
messages) outlive every kill of the gateway; the test writes to them directly
over the sandbox's socket, even while the gateway is down. ``make test`` runs
a few rounds; ``make soak`` runs the same code with ``WAGATE_CRASH_LOOP_ROUNDS``
set high.

Invariants:

* every send the API accepted reached its phone exactly once (a send whose
  answer was lost to a kill may have been accepted: it arrives at most once);
* every message a phone sent in reached the webhook receiver at least once,
  and repeats of it carry the same event id;
* the statuses of every sent message only moved forward, as the webhook's
  ``message.status`` events (ordered by ``sequence``) and the history show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.raw_http import RawReceiver, read_request_body

from wagate.engines.sandbox.remote import RemoteNetwork
from wagate.engines.sandbox.remote_control import RemoteControl

pytestmark = pytest.mark.both_databases

# Two kills in ``make test`` (each proves the invariants across a kill -9);
# ``make soak`` runs 40.
ROUNDS = int(os.environ.get("WAGATE_CRASH_LOOP_ROUNDS", "2"))
# Up between kills: long enough to start, take work and be killed mid-flight.
UP_SECONDS = (1.5, 3.5)
GATEWAY_PHONE, WRITER, RECIPIENT = "15553330001", "15553330002", "15553330003"
INBOUND_STALL_SECONDS = 30
_RANK = {"queued": 0, "sent": 2, "delivered": 3, "read": 4, "played": 5}


@dataclass
class WebhookReceiver(RawReceiver):
    """A receiver below any framework: records every body, answers 200."""

    bodies: list[dict[str, Any]] = field(default_factory=list)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                self.bodies.append(json.loads(await read_request_body(reader)))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        writer.close()


@dataclass
class Ledger:
    accepted: dict[str, str] = field(default_factory=dict)  # text -> messageId
    unknown: set[str] = field(default_factory=set)  # answer lost to a kill
    written_in: list[str] = field(default_factory=list)


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    # Another process's state: look again every 0.2 s.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if await check():
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def _set_up(http: httpx.AsyncClient, receiver: WebhookReceiver) -> str:
    """A linked session, the phones, and a webhook; returns the session's API key."""
    registered = await http.post(
        "/api/v1/auth/register", json={"email": "loop@example.com", "password": "loop-pass-12"}
    )
    assert registered.status_code == 201, registered.text
    auth = {"Authorization": f"Bearer {registered.json()['data']['token']}"}
    session = (await http.post("/api/v1/sessions", json={"name": "loop"}, headers=auth)).json()
    session_id = session["data"]["sessionId"]
    for phone in (GATEWAY_PHONE, WRITER, RECIPIENT):
        made = await http.post("/sandbox/v1/phones", json={"phone": phone}, headers=auth)
        assert made.status_code in (200, 201), made.text
    qr: dict[str, Any] = {}

    async def has_qr() -> bool:
        answer = await http.get(f"/api/v1/sessions/{session_id}/qr", headers=auth)
        qr.update(answer.json()["data"])
        return bool(qr.get("qrCode"))

    await _eventually(has_qr, "a QR code", 30)
    linked = await http.post(
        f"/sandbox/v1/phones/{GATEWAY_PHONE}/link", json={"qr": qr["qrCode"]}, headers=auth
    )
    assert linked.status_code == 200, linked.text

    async def connected() -> bool:
        answer = await http.get(f"/api/v1/sessions/{session_id}/status", headers=auth)
        return bool(answer.json()["data"]["connected"])

    await _eventually(connected, "the session to connect", 30)
    hook = await http.post(
        "/api/v1/webhooks",
        json={
            "sessionId": session_id,
            "url": receiver.url,
            "events": ["message", "message.status"],
        },
        headers=auth,
    )
    assert hook.status_code == 201, hook.text
    api_key: str = session["data"]["apiKey"]
    return api_key


async def _send_steadily(base_url: str, key: str, ledger: Ledger, stop: asyncio.Event) -> None:
    index = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        while not stop.is_set():
            text = f"send {index}"
            try:
                answer = await http.post(
                    "/api/v1/messages/send",
                    json={"to": RECIPIENT, "text": text},
                    headers={"x-api-key": key},
                )
            except httpx.ConnectError:
                await asyncio.sleep(0.1)  # the gateway is down: nothing was sent
                continue
            except httpx.TransportError:
                ledger.unknown.add(text)  # killed mid-request: maybe accepted
                index += 1
                continue
            if answer.status_code == 200:
                ledger.accepted[text] = answer.json()["data"]["messageId"]
            index += 1
            await asyncio.sleep(0.05)


async def _write_in_steadily(control: RemoteControl, ledger: Ledger, stop: asyncio.Event) -> None:
    index = 0
    while not stop.is_set():
        text = f"inbound {index}"
        await control.send_message(WRITER, {"to": GATEWAY_PHONE, "text": text})
        ledger.written_in.append(text)
        index += 1
        await asyncio.sleep(0.08)


# Each round is a kill and a start (several seconds on a loaded machine), then
# the checker waits for the last deliveries (every inbound message written while
# the gateway was down is stored afterwards, so the backlog grows with the rounds).
@pytest.mark.timeout(180 + 45 * ROUNDS)
async def test_crash_loop_keeps_every_invariant(
    gateway_process: Callable[..., Any], sandbox_process: Any, tmp_path: Path
) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    gateway = gateway_process(
        WAGATE_SANDBOX_URL=sandbox_process.url,
        WAGATE_ALLOW_PRIVATE_URLS="true",
        WAGATE_SEND_WAIT_SECONDS="0",
        WAGATE_SEND_RATE_PER_MINUTE="6000",
        WAGATE_WEBHOOK_RETRY_DELAYS=",".join(["0"] + ["0.5"] * 30),
        WAGATE_WEBHOOK_TIMEOUT="2",
        WAGATE_WEBHOOK_POLL_SECONDS="0.3",
        WAGATE_SANDBOX_QR_INTERVAL="10",
    )
    await asyncio.to_thread(gateway.start)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        key = await _set_up(http, receiver)

    network = RemoteNetwork(sandbox_process.url, tmp_path / "driver-linked.json")
    await network.open()
    control = RemoteControl(network)
    ledger = Ledger()
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(_send_steadily(gateway.base_url, key, ledger, stop)),
        asyncio.create_task(_write_in_steadily(control, ledger, stop)),
    ]
    try:
        for _ in range(ROUNDS):
            await asyncio.sleep(random.uniform(*UP_SECONDS))
            await asyncio.to_thread(gateway.kill)
            await asyncio.sleep(0.3)  # phones keep writing while it is down
            await asyncio.to_thread(gateway.start)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert len(ledger.accepted) >= ROUNDS, "too few sends were accepted to prove anything"

    # -- the invariant checker ------------------------------------------------
    async def phone_texts() -> list[str]:
        messages = await control.list_messages(RECIPIENT, limit=1000)
        return [m["text"] for m in messages if m["direction"] == "in"]

    async def every_send_arrived() -> bool:
        return set(ledger.accepted) <= set(await phone_texts())

    try:
        await _eventually(every_send_arrived, "every accepted send to reach its phone", 60)
    except AssertionError:
        missing = sorted(set(ledger.accepted) - set(await phone_texts()))
        raise AssertionError(
            f"accepted sends that never reached the phone: {missing[:10]}"
        ) from None

    # The gateway stores what it was owed at its own pace (a long soak on a busy
    # machine leaves it a backlog of hundreds): fail when it stops making progress.
    def inbound_texts() -> set[str]:
        return {b["text"] for b in receiver.bodies if b["event"] == "message.received"}

    progress, stalled_since = len(inbound_texts()), time.monotonic()
    while not set(ledger.written_in) <= inbound_texts():
        if len(inbound_texts()) > progress:
            progress, stalled_since = len(inbound_texts()), time.monotonic()
        elif time.monotonic() - stalled_since > INBOUND_STALL_SECONDS:
            lost = [t for t in ledger.written_in if t not in inbound_texts()]
            raise AssertionError(
                f"{len(lost)} of {len(ledger.written_in)} inbound messages never reached the "
                f"receiver (nothing new for {INBOUND_STALL_SECONDS} s): {lost[:10]}"
            )
        await asyncio.sleep(0.2)

    arrived = Counter(await phone_texts())
    twice = [t for t, n in arrived.items() if n > 1]
    assert not twice, f"sends that reached the phone more than once: {twice[:10]}"
    strays = set(arrived) - set(ledger.accepted) - ledger.unknown
    assert not strays, f"the phone got sends nobody made: {sorted(strays)[:10]}"

    ids_by_text: defaultdict[str, set[str]] = defaultdict(set)
    for body in receiver.bodies:
        if body["event"] == "message.received":
            ids_by_text[body["text"]].add(body["id"])
    assert all(len(ids) == 1 for ids in ids_by_text.values()), "a repeat under a new event id"

    statuses: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)
    for body in {b["id"]: b for b in receiver.bodies if b["event"] == "message.status"}.values():
        statuses[body["messageId"]].append((body["sequence"], body["status"]))
    for message_id, changes in statuses.items():
        ranks = [_RANK.get(status, 9) for _, status in sorted(changes)]
        assert ranks == sorted(ranks), f"{message_id} moved backwards: {sorted(changes)}"

    final: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        while True:
            page = await http.get(
                "/api/v1/messages/history",
                params={"limit": 500, "offset": len(final)},
                headers={"x-api-key": key},
            )
            assert page.status_code == 200, page.text
            messages = page.json()["data"]["messages"]
            final.update((m["message_id"], m["status"]) for m in messages)
            if len(messages) < 500:
                break
    for text, message_id in ledger.accepted.items():
        assert final.get(message_id) in ("sent", "delivered", "read"), (text, final.get(message_id))
    await network.close()
    await receiver.stop()
