"""What every benchmark needs: a real ``wagate serve`` in its own process, and a
way to run requests concurrently and read percentiles."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ADMIN_PASSWORD = "bench-admin-pass"  # noqa: S105  (a throwaway server in a temp folder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int, **env_overrides: str) -> subprocess.Popen[bytes]:
    """A gateway on SQLite in ``data_dir``, rate limits off, answering /health."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGATE_")}
    env.update(
        {
            "WAGATE_DATA_DIR": str(data_dir),
            "WAGATE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "WAGATE_RATE_LIMIT_ENABLED": "false",
            "WAGATE_LOG_LEVEL": "WARNING",
            **env_overrides,
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "wagate", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "server.log").open("wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start:\n" + (data_dir / "server.log").read_text())


async def run_concurrently(
    count: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> float:
    """Run ``one(i)`` for i in range(count) with ``concurrency`` at a time; seconds taken."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
