"""Fixtures shared by the whole suite: settings on a fresh database, the real app
with its lifespan, an HTTP client on it, and users."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
        "sandbox_qr_interval": 0.5,
        "reconnect_base_seconds": 0.05,
        "reconnect_max_seconds": 0.5,
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
