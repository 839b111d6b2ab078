"""What each of wagate's middlewares costs per request, in microseconds of CPU.

    .venv/bin/python bench/middleware_cost.py [--requests 20000]

Each middleware wraps a do-nothing ASGI endpoint and is called in this process
(no sockets, no load generator), best of 7 rounds, so the figure is the
middleware's own work: request id and access line (``logs.py``), metrics and
API-call counting (``analytics/middleware.py``), the upload limit
(``messages/upload_limits.py``). Compare with the time a request takes on
``/health`` under ``bench/api_throughput.py`` (1 / rate per core).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from _report import Report
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagate.analytics.api_calls import ApiCallBuffer
from wagate.analytics.metrics import Metrics
from wagate.analytics.middleware import RequestAccountingMiddleware
from wagate.config import Settings
from wagate.logs import RequestContextMiddleware, configure_logging
from wagate.messages.upload_limits import UploadLimitMiddleware

ROUNDS = 7


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> Message:
    return {"type": "http.request", "body": b""}


async def send(message: Message) -> None:
    return None


def scope() -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    return {"type": "http", "method": "GET", "path": "/health", "headers": headers}


async def microseconds(app: ASGIApp, requests: int) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(requests):
            await app(scope(), receive, send)
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


async def bench(requests: int) -> None:
    configure_logging(Settings(log_level="WARNING"))  # as the benchmarks serve
    bare = await microseconds(endpoint, requests)
    stack: list[tuple[str, ASGIApp]] = [
        ("request id + access line", RequestContextMiddleware(endpoint)),
        (
            "metrics + API-call count",
            RequestAccountingMiddleware(endpoint, metrics=Metrics(), api_calls=ApiCallBuffer()),
        ),
        ("upload limit", UploadLimitMiddleware(endpoint, {}, 1024 * 1024)),
    ]
    report = Report("Middleware cost per request (in process, best of 7)")
    total = 0.0
    for name, app in stack:
        cost = await microseconds(app, requests) - bare
        total += cost
        report.figure(name, f"{cost:.1f} µs")
    report.figure("all three", f"{total:.1f} µs")
    report.print()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(bench(args.requests))


if __name__ == "__main__":
    main()
