"""What every benchmark needs: a real ``wagate serve`` in its own process on
SQLite or PostgreSQL, linked sandbox sessions, and a way to run requests
concurrently and read percentiles."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Executable, text

from wagate.engines.sandbox.remote import RemoteNetwork
from wagate.engines.sandbox.remote_control import RemoteControl
from wagate.storage.db import Database

ADMIN_PASSWORD = "bench-admin-pass"  # noqa: S105  (a throwaway server in a temp folder)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int, **env_overrides: str) -> subprocess.Popen[bytes]:
    """A gateway on SQLite in ``data_dir``, rate limits off, answering /health."""
    data_dir.mkdir(parents=True, exist_ok=True)
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


# -- a gateway run on the chosen database, with the tools every benchmark shares --


def database_url_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WAGATE_DATABASE_URL"),
        help="run on this database (PostgreSQL: postgresql+asyncpg://...); "
        "default: WAGATE_DATABASE_URL, else SQLite in a temporary folder",
    )


def database_name(url: str | None) -> str:
    return "PostgreSQL" if url and url.startswith("postgresql") else "SQLite"


@dataclass
class Gateway:
    """A ``wagate serve`` process on a database of its own (a fresh PostgreSQL
    schema, or SQLite in its data folder)."""

    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    spawned_at: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.spawned_at = time.monotonic()
        self.process = start_server(self.data_dir, self.port, **self.env)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is not None:
                # It died on its own: say how, or a benchmark fails with a bare ReadError.
                log = (self.data_dir / "server.log").read_text(errors="replace")
                print(
                    f"the gateway exited with status {self.process.returncode}; "
                    f"the end of its log:\n{log[-3000:]}",
                    file=sys.stderr,
                )
            self.process.terminate()
            self.process.wait(60)
            self.process = None

    def rss_mb(self) -> float:
        """The process's resident memory, in MB (``VmRSS``)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise SystemExit("no VmRSS for the gateway")

    def database(self) -> Database:
        """The gateway's database, for counting what it stored."""
        url = (
            self.env.get("WAGATE_DATABASE_URL")
            or f"sqlite+aiosqlite:///{self.data_dir / 'wagate.db'}"
        )
        return Database(url, schema=self.env.get("WAGATE_DATABASE_SCHEMA"))


@asynccontextmanager
async def running_gateway(
    database_url: str | None, data_dir: Path, **env: str
) -> AsyncIterator[Gateway]:
    """A started gateway; stopped (and its PostgreSQL schema dropped) on the way out."""
    schema = None
    if database_url:
        env["WAGATE_DATABASE_URL"] = database_url
        if database_url.startswith("postgresql"):
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            env["WAGATE_DATABASE_SCHEMA"] = schema
            await _schema(database_url, f"CREATE SCHEMA {schema}")
    gateway = Gateway(data_dir, env)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()
        if schema is not None:
            await _schema(database_url or "", f"DROP SCHEMA {schema} CASCADE")


async def _schema(url: str, statement: str) -> None:
    admin = Database(url)
    try:
        async with admin.engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await admin.dispose()


async def count(database: Database, query: str | Executable) -> int:
    statement = text(query) if isinstance(query, str) else query
    async with database.engine.connect() as connection:
        return int((await connection.execute(statement)).scalar_one())


async def poll(check: Callable[[], Awaitable[Any]], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise SystemExit("timed out")


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": ADMIN_PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['data']['token']}"}


async def link_session(
    http: httpx.AsyncClient, auth: dict[str, str], business: str
) -> dict[str, str]:
    """A session linked to a new sandbox phone ``business``; its id and session key."""
    created = await http.post("/api/v1/sessions", json={"name": business}, headers=auth)
    if created.status_code != 201:
        raise SystemExit(f"creating session {business}: {created.status_code} {created.text}")
    session = created.json()["data"]
    await http.post("/sandbox/v1/phones", json={"phone": business}, headers=auth)

    async def qr() -> str | None:
        response = await http.get(f"/api/v1/sessions/{session['sessionId']}/qr", headers=auth)
        code: str | None = response.json()["data"]["qrCode"]
        return code

    # On a loaded machine the QR code may rotate between reading and linking:
    # read the current one again and retry.
    for _attempt in range(10):
        code = await poll(qr)
        linked = await http.post(
            f"/sandbox/v1/phones/{business}/link", json={"qr": code}, headers=auth
        )
        if linked.status_code != 400:
            break
    linked.raise_for_status()

    async def connected() -> bool:
        response = await http.get(f"/api/v1/sessions/{session['sessionId']}/status", headers=auth)
        return bool(response.json()["data"]["connected"])

    await poll(connected)
    return {"sessionId": session["sessionId"], "apiKey": session["apiKey"]}


async def session_keys(gateway_url: str, sessions: int, customer: str) -> list[dict[str, str]]:
    """The key headers of ``sessions`` linked sessions, and a sandbox phone ``customer``
    for them to send to."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as http:
        auth = await login(http)
        linked = [await link_session(http, auth, f"1555999{n:04d}") for n in range(sessions)]
        await http.post("/sandbox/v1/phones", json={"phone": customer}, headers=auth)
    return [{"x-api-key": s["apiKey"]} for s in linked]


@asynccontextmanager
async def sandbox_process(data_dir: Path) -> AsyncIterator[tuple[str, RemoteControl]]:
    """A sandbox network in a process of its own (``python -m wagate.engines.sandbox``),
    and a control of it from here: the phones' own work stays out of the gateway."""
    port = free_port()
    process = _spawn_sandbox(data_dir, port)
    url = f"ws://127.0.0.1:{port}"
    network = RemoteNetwork(url, data_dir / "bench-linked.json")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the sandbox did not start") from None
                await asyncio.sleep(0.1)
        await network.open()
        yield url, RemoteControl(network)
    finally:
        await network.close()
        process.terminate()
        process.wait(30)


def _spawn_sandbox(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "wagate.engines.sandbox", "--port", str(port)),
            *("--data-dir", str(data_dir), "--max-messages", "100000"),
        ],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("WAGATE_")},
            "WAGATE_LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "sandbox.log").open("wb"),
    )
