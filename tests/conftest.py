"""Fixtures shared by the whole suite: settings on a fresh database, the real app
with its lifespan, an HTTP client on it, and users."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from wagate.app import create_app
from wagate.config import Settings
from wagate.storage.db import Database

POSTGRES_URL_ENV = "WAGATE_TEST_DATABASE_URL"
REDIS_URL_ENV = "WAGATE_TEST_REDIS_URL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run the test on SQLite and, when configured, PostgreSQL"
    )
    config.addinivalue_line("markers", "registration_closed: the app under test refuses sign-ups")
    config.addinivalue_line("markers", "private_urls: the app under test may fetch private URLs")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_databases") is not None
        metafunc.parametrize("db_backend", ["sqlite", "postgresql"] if both else ["sqlite"])


@pytest.fixture
async def database_settings(db_backend: str, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """Database settings for one test: a SQLite file, or a PostgreSQL schema of its own."""
    if db_backend == "sqlite":
        yield {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'wagate.db'}"}
        return
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set: PostgreSQL tests need a database URL")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = Database(url)
    async with admin.engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield {"database_url": url, "database_schema": schema}
    finally:
        async with admin.engine.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a module or test to change settings for the app under test."""
    return {}


@pytest.fixture
def settings(
    tmp_path: Path, database_settings: dict[str, str], settings_overrides: dict[str, object]
) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "secret_key": "test-secret-" + "x" * 40,
        "admin_email": "admin@example.com",
        "admin_password": "admin-password-1",
        # Slow enough that a code read by a test is still current when a phone scans it.
        "sandbox_qr_interval": 5.0,
        "reconnect_base_seconds": 0.05,
        "reconnect_max_seconds": 0.5,
        # The suite makes far more requests than the limits allow; the tests of
        # rate limits turn them on with small limits of their own.
        "rate_limit_enabled": False,
        **database_settings,
    }
    values.update(settings_overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wagate.test") as http:
        yield http


@dataclass
class TestUser:
    __test__ = False

    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


UserFactory = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def make_user(client: httpx.AsyncClient) -> UserFactory:
    async def _make(email: str | None = None, password: str = "correct-horse-9") -> TestUser:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        response = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        return TestUser(data["user"]["id"], data["user"]["email"], password, data["token"])

    return _make


@pytest.fixture
async def user(make_user: UserFactory) -> TestUser:
    return await make_user()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class GatewayProcess:
    """A real ``wagate serve`` in its own process, on a free port."""

    __test__ = False

    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wagate", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"wagate exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)  # polling a socket that is not open yet: nothing to await
        raise RuntimeError(f"wagate did not answer /health in {timeout}s:\n{self.log_text()}")

    def kill(self) -> None:
        """``kill -9``: no shutdown hooks run."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def gateway_process(
    tmp_path: Path, database_settings: dict[str, str]
) -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def _make(**env_overrides: str) -> GatewayProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGATE_")}
        env.update(
            {
                "WAGATE_DATA_DIR": str(tmp_path / "gateway-data"),
                "WAGATE_DATABASE_URL": database_settings["database_url"],
                "WAGATE_SECRET_KEY": "process-secret-" + "z" * 40,
                "WAGATE_ADMIN_PASSWORD": "admin-password-1",
                "WAGATE_RATE_LIMIT_ENABLED": "false",
            }
        )
        if "database_schema" in database_settings:
            env["WAGATE_DATABASE_SCHEMA"] = database_settings["database_schema"]
        env.update(env_overrides)
        gateway = GatewayProcess(env, free_port(), tmp_path / f"gateway-{len(started)}.log")
        started.append(gateway)
        return gateway

    yield _make
    for gateway in started:
        gateway.stop()


Predicate = Callable[[], Awaitable[bool]]


@pytest.fixture
def wait_until(app: FastAPI) -> Callable[..., Awaitable[None]]:
    """Wait, without sleeping, until ``predicate`` holds: it is checked again each
    time the app commits an outbox event (every state change writes one)."""

    async def _wait(predicate: Predicate, timeout: float = 15.0, what: str = "condition") -> None:
        signal = app.state.outbox_signal
        waiter = signal.subscribe()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    waiter.clear()
                    if await predicate():
                        return
                    await waiter.wait()
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
        finally:
            signal.unsubscribe(waiter)

    return _wait


# -- sessions and the sandbox ------------------------------------------------

_numbers = itertools.count(15550000001)


@dataclass
class Linked:
    session_id: str
    api_key: str
    phone: str


@pytest.fixture
def new_phone_number() -> Callable[[], str]:
    return lambda: str(next(_numbers))


@pytest.fixture
def session_tools(
    client: httpx.AsyncClient,
    wait_until: Callable[..., Awaitable[None]],
    new_phone_number: Callable[[], str],
) -> Any:
    class Tools:
        async def create(self, headers: dict[str, str], name: str = "Shop") -> dict[str, Any]:
            response = await client.post("/api/v1/sessions", json={"name": name}, headers=headers)
            assert response.status_code == 201, response.text
            data: dict[str, Any] = response.json()["data"]
            return data

        async def status(self, headers: dict[str, str], session_id: str) -> dict[str, Any]:
            response = await client.get(f"/api/v1/sessions/{session_id}/status", headers=headers)
            assert response.status_code == 200, response.text
            data: dict[str, Any] = response.json()["data"]
            return data

        async def wait_state(
            self, headers: dict[str, str], session_id: str, state: str, timeout: float = 15.0
        ) -> dict[str, Any]:
            seen: dict[str, Any] = {}

            async def reached() -> bool:
                seen.update(await self.status(headers, session_id))
                return bool(seen["state"] == state)

            await wait_until(reached, timeout, f"session {session_id} to be {state} ({seen})")
            return seen

        async def qr(self, headers: dict[str, str], session_id: str) -> str:
            await self.wait_state(headers, session_id, "qr")
            response = await client.get(f"/api/v1/sessions/{session_id}/qr", headers=headers)
            code: str = response.json()["data"]["qrCode"]
            assert code
            return code

        async def phone(
            self, headers: dict[str, str], number: str | None = None, **extra: Any
        ) -> str:
            number = number or new_phone_number()
            response = await client.post(
                "/sandbox/v1/phones",
                json={"phone": number, "name": f"Phone {number[-4:]}", **extra},
                headers=headers,
            )
            assert response.status_code in (200, 201), response.text
            return number

        async def link(self, headers: dict[str, str], name: str = "Shop") -> Linked:
            created = await self.create(headers, name)
            phone = await self.phone(headers)
            code = await self.qr(headers, created["sessionId"])
            scanned = await client.post(
                f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=headers
            )
            assert scanned.status_code == 200, scanned.text
            await self.wait_state(headers, created["sessionId"], "connected")
            return Linked(created["sessionId"], created["apiKey"], phone)

        async def fault(self, headers: dict[str, str], **body: Any) -> None:
            response = await client.post("/sandbox/v1/faults", json=body, headers=headers)
            assert response.status_code == 200, response.text

    return Tools()


@pytest.fixture
async def linked(user: TestUser, session_tools: Any) -> Any:
    """A session of ``user``'s, linked to a sandbox phone (``.phone``, ``.headers``...)."""
    return await session_tools.link(user.headers)


@pytest.fixture
async def customer(user: TestUser, session_tools: Any) -> str:
    """A sandbox phone number for a linked session to talk to."""
    number: str = await session_tools.phone(user.headers)
    return number


@pytest.fixture
def free_tcp_port() -> int:
    return free_port()


class SandboxProcess:
    """``wagate sandbox serve`` in its own process."""

    __test__ = False

    def __init__(self, port: int, data_dir: Path, log: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGATE_")}
        env["WAGATE_DATA_DIR"] = str(self.data_dir)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wagate", "sandbox", "serve", "--port", str(self.port)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # the process says when it listens
            if b"listening on" in line:
                return
        raise RuntimeError(f"sandbox did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def sandbox_process(tmp_path: Path, free_tcp_port: int) -> Iterator[SandboxProcess]:
    process = SandboxProcess(free_tcp_port, tmp_path / "sandbox-data", tmp_path / "sandbox.log")
    process.start()
    yield process
    process.kill()
