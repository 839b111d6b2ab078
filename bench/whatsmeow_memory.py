"""Gateway memory per session: whatsmeow sessions on the offline path against sandbox
sessions, measured in the same run.

    .venv/bin/python bench/whatsmeow_memory.py [--sessions 1,50,200] [--retry-window S]

For each engine and each count N, a fresh ``wagate serve`` runs in its own
process on SQLite in a temporary folder, with only that engine enabled. N
sessions are created through the API and the server's resident memory (VmRSS
from /proc) is read once every session has reached its first stop:

- sandbox: every session shows its QR code (a link attempt held open);
- whatsmeow: every session's client was created in Go and its connect refused
  by a loopback proxy (``WAGATE_WHATSMEOW_PROXY_URL`` pointing at a closed port,
  network pre-check off, so the attempt reaches whatsmeow); nothing leaves the
  machine.

The whatsmeow figure is then read again after ``--retry-window`` seconds in
which the gateway's reconnect loop retries every session with backoff, so the
cost of repeated failed attempts shows too (see docs/performance.md). Per
session = (RSS with N sessions - RSS with none) / N. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _gateway import ADMIN_PASSWORD, free_port, start_server

MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("no VmRSS: this benchmark needs Linux")


def threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


@dataclass
class Reading:
    engine: str
    sessions: int
    idle: int
    loaded: int
    threads: int
    files: int
    seconds: float
    later: int | None = None
    files_later: int | None = None
    attempts: int | None = None

    @property
    def per_session(self) -> float:
        return (self.loaded - self.idle) / self.sessions

    @property
    def per_session_later(self) -> float | None:
        return None if self.later is None else (self.later - self.idle) / self.sessions


async def poll(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise SystemExit("timed out waiting for the sessions")


async def measure(engine: str, count: int, retry_window: float) -> Reading:
    env = {"WAGATE_ENGINES": engine}
    if engine == "whatsmeow":
        env.update(
            {
                "WAGATE_WHATSMEOW_PROXY_URL": f"http://127.0.0.1:{free_port()}",
                "WAGATE_WHATSMEOW_PROBE_NETWORK": "false",
                "WAGATE_WHATSMEOW_LOG_LEVEL": "CRITICAL",
                "WAGATE_LOG_LEVEL": "INFO",  # the reconnect loop's lines count the attempts
            }
        )
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        port = free_port()
        server = start_server(Path(tmp), port, **env)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                login = await http.post(
                    "/api/v1/auth/login",
                    json={"email": "admin@example.com", "password": ADMIN_PASSWORD},
                )
                auth = {"Authorization": f"Bearer {login.json()['data']['token']}"}
                await asyncio.sleep(1.0)  # let start-up work settle before the baseline
                idle = rss_bytes(server.pid)
                started = time.monotonic()
                for n in range(count):
                    answer = await http.post(
                        "/api/v1/sessions", json={"name": f"s{n}"}, headers=auth
                    )
                    answer.raise_for_status()

                async def sessions() -> list[dict[str, Any]]:
                    answer = await http.get("/api/v1/sessions", headers=auth)
                    items: list[dict[str, Any]] = answer.json()["data"]["sessions"]
                    return items

                async def first_stop() -> bool:
                    items = await sessions()
                    if engine == "sandbox":
                        return all(s["state"] == "qr" for s in items)
                    return all(s["reason"] == "connect_failure" for s in items)

                await poll(first_stop, timeout=60 + count)
                reading = Reading(
                    engine,
                    count,
                    idle,
                    rss_bytes(server.pid),
                    threads(server.pid),
                    open_files(server.pid),
                    time.monotonic() - started,
                )
                if engine == "whatsmeow" and retry_window > 0:
                    await asyncio.sleep(retry_window)
                    reading.later = rss_bytes(server.pid)
                    reading.files_later = open_files(server.pid)
                    log = (Path(tmp) / "server.log").read_text(errors="replace")
                    reading.attempts = log.count("reconnects in") + count
                return reading
        finally:
            server.terminate()
            server.wait(30)


def show(readings: list[Reading], retry_window: float) -> None:
    print(
        f"{'engine':10} {'sessions':>8} {'idle MiB':>9} {'with MiB':>9} {'per session KiB':>16}"
        f" {'threads':>8} {'files':>6} {'ready s':>8}"
    )
    for r in readings:
        print(
            f"{r.engine:10} {r.sessions:8} {r.idle / MIB:9.1f} {r.loaded / MIB:9.1f}"
            f" {r.per_session / 1024:16.1f} {r.threads:8} {r.files:6} {r.seconds:8.1f}"
        )
    sandbox = {r.sessions: r for r in readings if r.engine == "sandbox"}
    print("\nwhatsmeow per session / sandbox per session:")
    for r in readings:
        base = sandbox.get(r.sessions)
        if r.engine != "whatsmeow" or base is None:
            continue
        ratio = r.per_session / base.per_session if base.per_session > 0 else float("inf")
        line = f"  {r.sessions:4} sessions: {ratio:6.1f}x"
        if r.per_session_later is not None:
            line += (
                f"; after {retry_window:g} s of retries ({r.attempts} attempts in all):"
                f" {r.per_session_later / 1024:.1f} KiB per session,"
                f" {(r.later or 0) / MIB:.1f} MiB and {r.files_later} open files in all"
            )
        print(line)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,50,200")
    parser.add_argument("--retry-window", type=float, default=30.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",")]
    readings = []
    for count in counts:
        for engine in ("sandbox", "whatsmeow"):
            reading = await measure(engine, count, args.retry_window)
            print(f"  measured {engine} x{count}", flush=True)
            readings.append(reading)
    show(readings, args.retry_window)


if __name__ == "__main__":
    asyncio.run(main())
