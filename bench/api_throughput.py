"""The API under load from ``wrk``, each figure beside its baseline from the same run.

    .venv/bin/python bench/api_throughput.py [--seconds 5] [--database-url URL]

Four servers' worth of figures, in one run on this machine:

* a bare FastAPI app answering ``/health``, served by uvicorn as ``wagate serve``
  serves the gateway: the framework's limit here;
* the gateway's ``/health`` (goal ≥ 0.6 x the bare app): the cost of wagate's
  middleware and routing;
* ``GET /api/v1/sessions/me`` by session key, keys of 16 sessions in turn
  (goal ≥ 0.5 x ``/health``): an authenticated read;
* acked sends (``POST /api/v1/messages/send``, answered ``sent`` once the engine
  took the message), 32 in flight, to one session (goal ≥ 0.1 x ``/health``)
  and spread over 16 sessions (goal ≥ 0.2 x ``/health``, and not slower than
  one session).

The gateway runs on SQLite in a temporary folder, or on PostgreSQL (a schema
of its own) when ``--database-url`` or ``WAGATE_DATABASE_URL`` names one, with
rate limits off and the sandbox network in its process. Load goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _gateway import (
    database_name,
    database_url_argument,
    free_port,
    link_session,
    login,
    running_gateway,
)
from _report import Report
from _wrk import WrkResult, require_wrk, rotating_requests, run_wrk

SESSIONS = 16
IN_FLIGHT = 32
CUSTOMER = "15558880001"
ACK = '"status":"sent"'


def bare_app_health(seconds: float) -> WrkResult:
    port = free_port()
    app = Path(__file__).with_name("_bare_app.py")
    process = subprocess.Popen([sys.executable, str(app), str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("the bare app did not start") from None
                time.sleep(0.1)
        return run_wrk(f"http://127.0.0.1:{port}/health", connections=IN_FLIGHT, seconds=seconds)
    finally:
        process.terminate()
        process.wait(30)


def shown(result: WrkResult, unit: str = "req/s") -> str:
    errors = result.socket_errors + result.non2xx
    return f"{result.rate:,.0f} {unit}, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms" + (
        f", {errors} errors" if errors else ""
    )


async def bench(seconds: float, database_url: str | None) -> int:
    require_wrk()
    report = Report(f"API throughput ({database_name(database_url)}, wrk, {IN_FLIGHT} in flight)")
    bare = bare_app_health(seconds)
    report.figure("bare FastAPI /health (baseline)", shown(bare))
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        async with running_gateway(database_url, Path(tmp)) as gateway:
            health = run_wrk(f"{gateway.url}/health", connections=IN_FLIGHT, seconds=seconds)
            report.figure("wagate /health", shown(health))
            report.ratio("wagate /health / bare", health.rate, bare.rate, 0.6, "req/s")

            async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
                auth = await login(http)
                sessions = [
                    await link_session(http, auth, f"1555999{n:04d}") for n in range(SESSIONS)
                ]
                await http.post("/sandbox/v1/phones", json={"phone": CUSTOMER}, headers=auth)
            keys = [{"x-api-key": s["apiKey"]} for s in sessions]

            me = run_wrk(
                f"{gateway.url}/api/v1/sessions/me",
                connections=IN_FLIGHT,
                seconds=seconds,
                script=rotating_requests("GET", "/api/v1/sessions/me", keys),
            )
            report.figure("GET /api/v1/sessions/me by session key", shown(me))
            report.ratio("sessions/me / wagate /health", me.rate, health.rate, 0.5, "req/s")

            body = json.dumps({"to": CUSTOMER, "text": "bench"})
            json_headers = [k | {"content-type": "application/json"} for k in keys]
            sends: dict[int, WrkResult] = {}
            for count in (1, SESSIONS):
                sends[count] = run_wrk(
                    f"{gateway.url}/api/v1/messages/send",
                    connections=IN_FLIGHT,
                    seconds=seconds,
                    script=rotating_requests(
                        "POST", "/api/v1/messages/send", json_headers[:count], [body]
                    ),
                    ack=ACK,
                    timeout=30,
                )
                label = "one session" if count == 1 else f"{count} sessions"
                result = sends[count]
                report.figure(
                    f"acked sends, {label}",
                    f"{result.acked_rate:,.1f} msg/s acked of {result.rate:,.1f} answered, "
                    f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms",
                )
            report.ratio(
                "acked sends, one session / /health", sends[1].acked_rate, health.rate, 0.1, "msg/s"
            )
            report.ratio(
                f"acked sends, {SESSIONS} sessions / /health",
                sends[SESSIONS].acked_rate,
                health.rate,
                0.2,
                "msg/s",
            )
            report.ratio(
                f"acked sends, {SESSIONS} sessions / one session",
                sends[SESSIONS].acked_rate,
                sends[1].acked_rate,
                1.0,
                "msg/s",
            )
    report.print()
    return report.missed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="each wrk run")
    database_url_argument(parser)
    args = parser.parse_args()
    asyncio.run(bench(args.seconds, args.database_url))


if __name__ == "__main__":
    main()
