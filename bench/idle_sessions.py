"""Idle sessions: the gateway's memory per linked, connected session, the time
they take to be connected again after a restart, and the gateway's own memory
at start.

    .venv/bin/python bench/idle_sessions.py [--sessions 1000] [--database-url URL]

The phones live on a sandbox network in a process of its own, so the gateway's
resident memory (``VmRSS``) holds only what the gateway keeps per session.

* at start: the gateway's memory once it answers ``/health``, started again on
  the database its first start created (goal ≤ 100 MB; the first start, which
  migrates an empty database and creates the admin, is shown beside it);
* per session: memory with ``--sessions`` linked and connected, less memory at
  start, divided by their number (goal < 50 KB);
* restart: the gateway stops and starts again on the same database; the clock
  runs from the new process's spawn (imports, migrations included) to every
  session connected again as the sandbox network sees it (goal < 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from _gateway import (
    database_name,
    database_url_argument,
    link_session,
    login,
    poll,
    run_concurrently,
    running_gateway,
    sandbox_process,
)
from _report import Report

from wagate.engines.sandbox.remote_control import RemoteControl

BUSINESS = "155577{:05d}"


async def bench(sessions: int, database_url: str | None) -> int:
    report = Report(f"{sessions} idle sessions ({database_name(database_url)})")
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        async with (
            sandbox_process(Path(tmp) / "sandbox") as (sandbox_url, control),
            running_gateway(
                database_url, Path(tmp) / "gateway", WAGATE_SANDBOX_URL=sandbox_url
            ) as gateway,
        ):
            await asyncio.sleep(1)  # let start-up work (migrations, first sweeps) settle
            report.figure("gateway memory at its first start", f"{gateway.rss_mb():,.1f} MB")
            # Every later start finds the schema at head and the admin made: that is
            # the gateway's memory at start (the first one migrates an empty
            # database and hashes the admin's password once, see docs/performance.md).
            gateway.stop()
            gateway.start()
            await asyncio.sleep(1)
            at_start = gateway.rss_mb()
            report.at_most("gateway memory at start", at_start, 100, "MB")
            async with httpx.AsyncClient(base_url=gateway.url, timeout=120) as http:
                auth = await login(http)

                async def link(index: int) -> None:
                    await link_session(http, auth, BUSINESS.format(index))

                await run_concurrently(sessions, 16, link)
            await asyncio.sleep(1)
            loaded = gateway.rss_mb()
            per_session_kb = (loaded - at_start) * 1024 / sessions
            report.figure(f"gateway memory with {sessions} connected", f"{loaded:,.1f} MB")
            report.at_most("memory per idle session", per_session_kb, 50, "KB")

            # Connected as the network sees it: a stopped gateway leaves its
            # sessions' rows as they were, and a resume to the same state is no change.
            async def connected(at_least: int) -> bool:
                status = await control.status()
                return bool(status["connectedSessions"] >= at_least)

            gateway.stop()
            await poll(lambda: _none_connected(control))
            gateway.start()
            ready = time.monotonic()
            await poll(lambda: connected(sessions), timeout=60)
            done = time.monotonic()
            # Sessions resume during start-up, so most are back before /health answers.
            report.figure("restart: /health answers to all connected", f"{done - ready:.2f} s")
            report.at_most("restart: spawn to all connected", done - gateway.spawned_at, 5, "s")
    report.print()
    return report.missed


async def _none_connected(control: RemoteControl) -> bool:
    return bool((await control.status())["connectedSessions"] == 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=1000)
    database_url_argument(parser)
    args = parser.parse_args()
    asyncio.run(bench(args.sessions, args.database_url))


if __name__ == "__main__":
    main()
