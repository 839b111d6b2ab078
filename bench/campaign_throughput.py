"""Campaign throughput: a campaign to N sandbox phones across S sessions with
pacing off, beside the plain send API at the same concurrency, in one run.

    .venv/bin/python bench/campaign_throughput.py [--recipients N] [--sessions S]

A real ``wagate serve`` runs in its own process on SQLite in a temporary
folder. Contacts come in as one CSV import. Each rate runs from the first
request to the moment every message of its batch is ``delivered`` (or
further), read from the gateway's own database, so both batches are measured
the same way. The plain batch sends the same number of messages with as many
requests in flight as the campaign may have messages waiting in the sessions'
queues (sessions times ``WAGATE_CAMPAIGN_WINDOW``). Peak memory is the server's
``VmHWM``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _gateway import ADMIN_PASSWORD, free_port, run_concurrently, start_server

WINDOW = 20


async def poll_until(check: Callable[[], bool], timeout: float = 1800.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.2)
    raise SystemExit("timed out")


_DELIVERED = (
    "SELECT count(*) FROM messages WHERE direction = 'out' "
    "AND status IN ('delivered', 'read', 'played') "
    "AND (coalesce(idempotency_key, '') LIKE 'campaign:%') = ?"
)


def delivered(db_path: Path, campaign: bool) -> int:
    """Outgoing messages of one batch (campaign or not) delivered or further."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as connection:
        row = connection.execute(_DELIVERED, (1 if campaign else 0,)).fetchone()
        return int(row[0])


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def link_sessions(
    http: httpx.AsyncClient, auth: dict[str, str], count: int
) -> tuple[list[str], list[str]]:
    """Linked sessions' ids and session keys."""
    ids, keys = [], []
    for index in range(count):
        session = (
            await http.post("/api/v1/sessions", json={"name": f"s{index}"}, headers=auth)
        ).json()["data"]
        phone = f"1555700{index:04d}"
        await http.post("/sandbox/v1/phones", json={"phone": phone}, headers=auth)
        code = None
        while not code:
            response = await http.get(f"/api/v1/sessions/{session['sessionId']}/qr", headers=auth)
            code = response.json()["data"]["qrCode"]
            await asyncio.sleep(0.1)
        await http.post(f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=auth)
        ids.append(session["sessionId"])
        keys.append(session["apiKey"])
    for session_id in ids:
        while True:
            status = await http.get(f"/api/v1/sessions/{session_id}/status", headers=auth)
            if status.json()["data"]["connected"]:
                break
            await asyncio.sleep(0.1)
    return ids, keys


async def bench(recipients: int, sessions: int) -> None:
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        data = Path(tmp)
        port = free_port()
        server = start_server(data, port, WAGATE_CAMPAIGN_WINDOW=str(WINDOW))
        concurrency = sessions * WINDOW
        try:
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits
            ) as http:
                login = await http.post(
                    "/api/v1/auth/login",
                    json={"email": "admin@example.com", "password": ADMIN_PASSWORD},
                )
                auth = {"Authorization": f"Bearer {login.json()['data']['token']}"}
                session_ids, keys = await link_sessions(http, auth, sessions)
                phones = [f"1555{2000000 + i:07d}" for i in range(recipients)]

                async def add_phone(index: int) -> None:
                    # Set-up, not measured: SQLite under load may answer "database is
                    # locked" (or drop the connection); such a phone is asked for again.
                    for attempt in range(8):
                        try:
                            response = await http.post(
                                "/sandbox/v1/phones", json={"phone": phones[index]}, headers=auth
                            )
                            if response.status_code < 500:
                                return
                        except httpx.TransportError:
                            pass
                        setup_retries.append(index)
                        await asyncio.sleep(0.2 * (attempt + 1))
                    raise SystemExit(f"could not create sandbox phone {phones[index]}")

                setup_retries: list[int] = []
                began = time.perf_counter()
                await run_concurrently(recipients, 8, add_phone)
                print(
                    f"{recipients} sandbox phones in {time.perf_counter() - began:.0f} s"
                    f" ({len(setup_retries)} retried)",
                    flush=True,
                )
                csv_body = "phone,name\n" + "".join(f"+{p},P{p[-4:]}\n" for p in phones)
                began = time.perf_counter()
                imported = await http.post(
                    "/api/v1/broadcast/contacts/import",
                    content=csv_body.encode(),
                    headers={**auth, "content-type": "text/csv"},
                    params={"tag": "bench"},
                )
                import_seconds = time.perf_counter() - began
                assert imported.json()["data"]["imported"] == recipients, imported.text
                template = (
                    await http.post(
                        "/api/v1/broadcast/templates",
                        json={"name": "b", "body": "Hello {{name}}"},
                        headers=auth,
                    )
                ).json()["data"]

                db_path = data / "wagate.db"
                began = time.perf_counter()
                started = await http.post(
                    "/api/v1/broadcast/campaigns",
                    json={
                        "name": "bench",
                        "templateId": template["id"],
                        "sessionIds": session_ids,
                        "tags": ["bench"],
                        "ratePerMinute": 0,
                        "jitterSeconds": 0,
                        "start": True,
                    },
                    headers=auth,
                )
                assert started.status_code == 201, started.text
                await poll_until(lambda: delivered(db_path, True) >= recipients)
                campaign_seconds = time.perf_counter() - began
                print(f"campaign: all delivered in {campaign_seconds:.1f} s", flush=True)

                async def send(index: int) -> None:
                    response = await http.post(
                        "/api/v1/messages/send",
                        json={"to": phones[index], "text": f"plain {index}"},
                        headers={"x-api-key": keys[index % sessions]},
                    )
                    response.raise_for_status()

                began = time.perf_counter()
                await run_concurrently(recipients, concurrency, send)
                await poll_until(lambda: delivered(db_path, False) >= recipients)
                plain_seconds = time.perf_counter() - began
                memory = peak_memory_mb(server.pid)
        except BaseException:
            # The server's side of a failure, before its folder goes.
            print(f"server exit code: {server.poll()}")
            print((data / "server.log").read_text(errors="replace")[-4000:])
            raise
        finally:
            server.terminate()
            server.wait(30)

    print(f"recipients: {recipients}, sessions: {sessions}, window/concurrency: {concurrency}")
    print(f"CSV import of {recipients} contacts: {import_seconds:6.2f} s")
    print(f"campaign, start → all delivered:   {recipients / campaign_seconds:8.1f} msg/s")
    print(f"send API, first request → all delivered: {recipients / plain_seconds:8.1f} msg/s")
    print(f"ratio campaign / send API: {plain_seconds / campaign_seconds:.2f}")
    print(f"server peak memory (VmHWM): {memory:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(bench(args.recipients, args.sessions))


if __name__ == "__main__":
    main()
