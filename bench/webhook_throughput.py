"""Webhook throughput: K inbound messages from sandbox phones delivered as signed
webhooks to a receiver on loopback, against a baseline measured in the same run.

    .venv/bin/python bench/webhook_throughput.py [--messages K] [--sessions S]

A real ``wagate serve`` runs in its own process on SQLite in a temporary
folder. The receiver (a tiny ASGI app under uvicorn, in this process) checks
each request's ``X-Webhook-Signature`` before it counts it. Each of the S
sessions has one webhook, and a webhook has one request in flight at a time
(that keeps its events in order), so the baseline is ``wrk`` posting the very
same bodies and headers to the same receiver with S requests in flight. Goals
(issue 12): live ≥ 0.5 x the baseline, backlog ≥ 0.7 x, and p99 from phone to
receiver under 100 ms at half the live run's rate.

Three runs:

* live, K messages: phones send (8 at a time), and the clock runs from the
  first send to the last verified webhook; latency from a phone starting to
  send to the receiver holding the verified request. This includes the
  gateway taking the messages in (storing them, writing their events), so
  under a burst it is mostly time spent queued behind earlier messages;
* paced, 50 messages at half the live run's rate: the latency of one message
  when the gateway is not working through a queue;
* backlog, K messages: the receiver holds the first request until all K events wait
  behind it, then lets go; the clock runs from then to the last verified
  webhook. That is the dispatcher alone: claim, sign, POST, record.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from _gateway import (
    database_url_argument,
    free_port,
    link_session,
    login,
    percentile,
    poll,
    run_concurrently,
    running_gateway,
)
from _report import Report
from _wrk import WrkResult, rotating_requests, run_wrk

PHONE_CONCURRENCY = 8
# A steady load beside the burst, at half the live run's rate: what one
# message's latency is when the gateway is not working through a queue.
PACED_MESSAGES = 50
BUSINESS, CUSTOMER = "1555999{:04d}", "15558880001"


class Receiver:
    """Counts a request only once its signature checks out."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: list[bytes] = []
        self.arrived: dict[str, float] = {}  # message text -> time verified
        self.captured: list[tuple[bytes, dict[str, str]]] = []
        self.rejected = 0
        self.expected: set[str] = set()
        self.done = asyncio.Event()
        self.gate: asyncio.Event | None = None  # when set, requests wait for it

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.gate is not None:
            await self.gate.wait()
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        signature = headers.get("x-webhook-signature", "")
        status = 401
        for secret in self.secrets:
            expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(signature, expected):
                status = 200
                self._count(body, headers)
                break
        self.rejected += status != 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _count(self, body: bytes, headers: dict[str, str]) -> None:
        payload = json.loads(body)
        text = payload.get("text")
        if payload.get("event") != "message.received" or text in self.arrived:
            return
        self.arrived[text] = time.time()
        self.captured.append((body, headers))
        if self.expected <= self.arrived.keys():
            self.done.set()

    def expect(self, texts: list[str]) -> None:
        self.expected = set(texts)
        self.done.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


async def session_with_webhook(
    http: httpx.AsyncClient, auth: dict[str, str], business: str, receiver: Receiver
) -> str:
    """A linked session with one webhook to the receiver; the webhook's id."""
    session = await link_session(http, auth, business)
    hook = await http.post(
        "/api/v1/webhooks",
        json={"sessionId": session["sessionId"], "url": receiver.url, "events": ["message"]},
        headers=auth,
    )
    hook.raise_for_status()
    receiver.secrets.append(hook.json()["data"]["secret"].encode())
    webhook_id: str = hook.json()["data"]["webhookId"]
    return webhook_id


class Phones:
    def __init__(
        self, http: httpx.AsyncClient, auth: dict[str, str], businesses: list[str]
    ) -> None:
        self.http, self.auth, self.businesses = http, auth, businesses
        self.sent_at: dict[str, float] = {}

    async def send_all(self, texts: list[str]) -> None:
        async def one(index: int) -> None:
            self.sent_at[texts[index]] = time.time()
            response = await self.http.post(
                f"/sandbox/v1/phones/{CUSTOMER}/messages",
                json={"to": self.businesses[index % len(self.businesses)], "text": texts[index]},
                headers=self.auth,
            )
            response.raise_for_status()

        await run_concurrently(len(texts), PHONE_CONCURRENCY, one)


async def waiting(http: httpx.AsyncClient, auth: dict[str, str], webhook_ids: list[str]) -> int:
    """Deliveries not done yet: pending, or claimed (a worker claims a batch of
    its webhook's next deliveries and sends them one at a time)."""
    total = 0
    for webhook_id in webhook_ids:
        for status in ("pending", "delivering"):
            response = await http.get(
                f"/api/v1/webhooks/{webhook_id}/deliveries",
                params={"status": status, "limit": 500},
                headers=auth,
            )
            total += len(response.json()["data"]["deliveries"])
    return total


async def gateway_runs(
    receiver: Receiver, messages: int, sessions: int, database_url: str | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        async with (
            running_gateway(
                database_url,
                Path(tmp),
                WAGATE_ALLOW_PRIVATE_URLS="true",
                # The backlog run holds one request open while the backlog builds.
                WAGATE_WEBHOOK_TIMEOUT="60",
            ) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=60) as http,
        ):
            auth = await login(http)
            businesses = [BUSINESS.format(n) for n in range(sessions)]
            webhook_ids = [await session_with_webhook(http, auth, b, receiver) for b in businesses]
            await http.post("/sandbox/v1/phones", json={"phone": CUSTOMER}, headers=auth)
            phones = Phones(http, auth, businesses)

            live = [f"live {n}" for n in range(messages)]
            receiver.expect(live)
            first_send = time.time()
            await phones.send_all(live)
            async with asyncio.timeout(300):
                await receiver.done.wait()
            live_seconds = max(receiver.arrived[t] for t in live) - first_send
            latencies = [receiver.arrived[t] - phones.sent_at[t] for t in live]
            paced_rate = messages / live_seconds / 2

            paced = [f"paced {n}" for n in range(PACED_MESSAGES)]
            receiver.expect(paced)
            for text in paced:
                await phones.send_all([text])
                await asyncio.sleep(1 / paced_rate)
            async with asyncio.timeout(60):
                await receiver.done.wait()
            paced_latencies = [receiver.arrived[t] - phones.sent_at[t] for t in paced]

            backlog = [f"backlog {n}" for n in range(messages)]
            receiver.expect(backlog)
            receiver.gate = asyncio.Event()
            await phones.send_all(backlog)
            # Held: one request per webhook; every other event waits behind it.
            # (The deliveries endpoint lists at most 500 per webhook and status.)
            held = min(messages - sessions, 500 * sessions)
            await poll(lambda: _at_least(waiting(http, auth, webhook_ids), held), timeout=120)
            released = time.time()
            receiver.gate.set()
            receiver.gate = None
            async with asyncio.timeout(300):
                await receiver.done.wait()
            backlog_seconds = max(receiver.arrived[t] for t in backlog) - released
    return {
        "live_rate": messages / live_seconds,
        "latencies": latencies,
        "paced_latencies": paced_latencies,
        "paced_rate": paced_rate,
        "backlog_rate": messages / backlog_seconds,
    }


async def _at_least(count: Awaitable[int], minimum: int) -> bool:
    return await count >= minimum


def baseline(receiver: Receiver, concurrency: int, seconds: float) -> WrkResult:
    """The same bodies and headers, posted by ``wrk`` with as many in flight."""
    bodies = [body.decode() for body, _ in receiver.captured]
    headers = [
        {k: v for k, v in h.items() if k.startswith(("x-", "webhook-"))}
        | {"content-type": "application/json"}
        for _, h in receiver.captured
    ]
    # One script pairs each body with its own headers (the signature covers the body).
    script = rotating_requests("POST", "/hook", headers, bodies)
    return run_wrk(receiver.url, connections=concurrency, seconds=seconds, script=script)


async def bench(messages: int, sessions: int, database_url: str | None) -> None:
    receiver = Receiver()
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        runs = await gateway_runs(receiver, messages, sessions, database_url)
        raw = await asyncio.to_thread(baseline, receiver, sessions, 5)
    finally:
        server.should_exit = True
        await serving

    latencies = runs["latencies"]
    paced = runs["paced_latencies"]
    report = Report(f"Webhooks, {messages} messages a run, {sessions} webhook(s)")
    report.figure("signatures rejected by the receiver", str(receiver.rejected))
    report.figure(
        "raw POSTs by wrk, same bodies (baseline)",
        f"{raw.rate:,.0f} req/s, p50 {raw.p50_ms:.1f} ms, p99 {raw.p99_ms:.1f} ms",
    )
    report.figure(
        "live: latency phone → receiver",
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms",
    )
    report.ratio("live, phone → verified webhook", runs["live_rate"], raw.rate, 0.5, "events/s")
    report.ratio("backlog, dispatcher alone", runs["backlog_rate"], raw.rate, 0.7, "events/s")
    report.at_most(
        f"p99 phone → receiver at half the live rate ({runs['paced_rate']:.0f}/s)",
        percentile(paced, 0.99) * 1000,
        100,
        "ms",
    )
    report.print()
    # The receiver counts what wrk posted too; its verdicts matter only for the gateway's.
    if receiver.rejected:
        raise SystemExit(f"{receiver.rejected} webhook signatures did not verify")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=1)
    database_url_argument(parser)
    args = parser.parse_args()
    asyncio.run(bench(args.messages, args.sessions, args.database_url))


if __name__ == "__main__":
    main()
