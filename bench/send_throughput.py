"""Send throughput: N sends through the HTTP API to sandbox phones, against a
baseline measured in the same run with the same client and concurrency.

    .venv/bin/python bench/send_throughput.py [--messages N] [--concurrency C]

A real ``wagate serve`` runs in its own process on SQLite in a temporary folder.
The baseline is the server's cheapest authenticated endpoint
(``GET /api/v1/sessions/me`` with the session key), so the ratio says what a
send costs over a bare authenticated request on this machine, whatever its
speed. Latency runs from the moment a send request starts to the moment the
sandbox phone holds the message.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _gateway import ADMIN_PASSWORD, free_port, percentile, run_concurrently, start_server


async def poll(check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise SystemExit("timed out")


async def setup(http: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str], str]:
    login = await http.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": ADMIN_PASSWORD}
    )
    auth = {"Authorization": f"Bearer {login.json()['data']['token']}"}
    session = (await http.post("/api/v1/sessions", json={"name": "bench"}, headers=auth)).json()[
        "data"
    ]
    business, customer = "15559990001", "15559990002"
    for phone in (business, customer):
        await http.post("/sandbox/v1/phones", json={"phone": phone}, headers=auth)

    async def qr() -> str | None:
        response = await http.get(f"/api/v1/sessions/{session['sessionId']}/qr", headers=auth)
        code: str | None = response.json()["data"]["qrCode"]
        return code

    code = await poll(qr)
    await http.post(f"/sandbox/v1/phones/{business}/link", json={"qr": code}, headers=auth)

    async def connected() -> bool:
        response = await http.get(f"/api/v1/sessions/{session['sessionId']}/status", headers=auth)
        return bool(response.json()["data"]["connected"])

    await poll(connected)
    return auth, {"x-api-key": session["apiKey"]}, customer


async def bench(messages: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        port = free_port()
        server = start_server(Path(tmp), port)
        try:
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
            ) as http:
                auth, key, customer = await setup(http)

                async def baseline_request(_: int) -> None:
                    response = await http.get("/api/v1/sessions/me", headers=key)
                    response.raise_for_status()

                await run_concurrently(50, concurrency, baseline_request)  # warm-up
                baseline_seconds = await run_concurrently(messages, concurrency, baseline_request)

                started_at: dict[str, float] = {}

                async def send(index: int) -> None:
                    began = time.time()
                    response = await http.post(
                        "/api/v1/messages/send",
                        json={"to": customer, "text": f"bench {index}"},
                        headers=key,
                    )
                    response.raise_for_status()
                    started_at[response.json()["data"]["messageId"]] = began

                first_request = time.time()
                send_seconds = await run_concurrently(messages, concurrency, send)

                async def all_delivered() -> list[dict[str, Any]] | None:
                    response = await http.get(
                        f"/sandbox/v1/phones/{customer}/messages?limit=1000", headers=auth
                    )
                    got = [
                        m
                        for m in response.json()["data"]["messages"]
                        if m["messageId"] in started_at
                    ]
                    return got if len(got) >= min(messages, 1000) else None

                delivered = await poll(all_delivered)
        finally:
            server.terminate()
            server.wait(30)

    latencies = [m["timestampMs"] / 1000 - started_at[m["messageId"]] for m in delivered]
    last_delivery = max(m["timestampMs"] / 1000 for m in delivered)
    baseline_rate = messages / baseline_seconds
    send_rate = messages / send_seconds
    delivered_rate = len(delivered) / (last_delivery - first_request)
    print(f"messages: {messages}, concurrency: {concurrency}")
    print(f"baseline GET /api/v1/sessions/me: {baseline_rate:8.1f} req/s")
    print(f"accepted sends:                   {send_rate:8.1f} msg/s")
    print(f"delivered to the phone:           {delivered_rate:8.1f} msg/s")
    print(
        "latency request → phone: "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    print(f"ratio accepted sends / baseline: {send_rate / baseline_rate:.2f}")
    print(f"ratio delivered / baseline:      {delivered_rate / baseline_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(bench(args.messages, args.concurrency))


if __name__ == "__main__":
    main()
