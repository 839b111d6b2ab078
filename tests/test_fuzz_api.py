"""Schemathesis on ``/openapi.json``: every operation, with a logged-in user and a
session key, answers no server error, and every error in its face's envelope.

The app runs in-process (schemathesis' ASGI transport starts its lifespan once)
on a database of its own. Examples per operation are bounded so ``make test``
stays short (about half a minute on a quiet machine); ``WAGATE_FUZZ_EXAMPLES``
and ``WAGATE_FUZZ_STATEFUL_EXAMPLES`` ask for more, as ``make soak`` does."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from sqlalchemy import text

from wagate.app import create_app
from wagate.config import Settings
from wagate.faces import MOUNTED
from wagate.storage.db import Database

POSTGRES_URL_ENV = "WAGATE_TEST_DATABASE_URL"  # as in conftest.py

EXAMPLES = int(os.environ.get("WAGATE_FUZZ_EXAMPLES", "5"))
STATEFUL_EXAMPLES = int(os.environ.get("WAGATE_FUZZ_STATEFUL_EXAMPLES", "8"))

# Statuses seen per operation, so the run can prove it got past authentication.
ANSWERED: defaultdict[str, set[int]] = defaultdict(set)

# Each face's error shape, by path prefix; a face added later adds its own here.
_SAK_FACES = ("/api/v1/", "/sandbox/v1/")


@dataclass(frozen=True)
class Credentials:
    token: str
    session_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "x-api-key": self.session_key}


def _sak_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(body, dict)
        and body.get("success") is False
        and isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and re.fullmatch(r"[A-Z_]+", error["code"]) is not None
        and isinstance(error.get("message"), str)
    )


def _same_shape(body: Any, expected: Any) -> bool:
    """The same keys holding the same kinds of value, all the way down."""
    if isinstance(expected, dict):
        return (
            isinstance(body, dict)
            and set(body) == set(expected)
            and all(_same_shape(body[key], value) for key, value in expected.items())
        )
    return type(body) is type(expected)


@schemathesis.check
def error_in_its_face_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx of a face is that face's error shape, as JSON."""
    if response.status_code < 400:
        return None
    path = case.operation.path
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} is not JSON: {response.text[:200]}") from None
    face = MOUNTED.for_path(path)
    if face is not None and face.name != "native":
        _, expected = face.render_error("NOT_FOUND", 404, "an example")
        assert _same_shape(body, expected), f"{response.status_code} not {face.name}'s: {body}"
    elif path.startswith(_SAK_FACES):
        assert _sak_error(body), f"{response.status_code} outside the envelope: {body}"
    return None


async def _schema(url: str, statement: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def fuzz_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """PostgreSQL when the suite has one (CI), in a schema of its own; else SQLite."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        path = tmp_path_factory.mktemp("fuzz-db") / "wagate.db"
        yield {"database_url": f"sqlite+aiosqlite:///{path}"}
        return
    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_schema(url, f"CREATE SCHEMA {schema}"))
    yield {"database_url": url, "database_schema": schema}
    asyncio.run(_schema(url, f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="module")
def fuzz_app(
    tmp_path_factory: pytest.TempPathFactory, fuzz_database: dict[str, Any]
) -> Iterator[Any]:
    app = create_app(
        Settings(
            data_dir=tmp_path_factory.mktemp("fuzz") / "data",
            secret_key="fuzz-secret-" + "f" * 40,
            admin_password="admin-password-1",
            rate_limit_enabled=False,
            send_wait_seconds=0,
            # The stateful run replays chains of calls against the same database:
            # a plan limit reached halfway would make the same chain answer
            # differently later, which Hypothesis reports as flaky generation.
            free_plan_sessions=1_000_000,
            # Faces that wait for a QR (the broadcaster's start-session) answer at once.
            broadcaster_qr_wait_seconds=0,
            **fuzz_database,
        )
    )
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def credentials(fuzz_app: Any) -> Credentials:
    with asgi.get_client(fuzz_app) as client:
        registered = client.post(
            "/api/v1/auth/register",
            json={"email": "fuzz@example.com", "password": "fuzzing-horse-5"},
        )
        assert registered.status_code == 201, registered.text
        token = registered.json()["data"]["token"]
        created = client.post(
            "/api/v1/sessions",
            json={"name": "fuzz"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        return Credentials(token, created.json()["data"]["apiKey"])


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32 renames the test node through ``_nodeid``, which pytest 9
    # no longer has: give it one.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_a_server_error(case: Any, credentials: Credentials) -> None:
    response = case.call_and_validate(
        headers=credentials.headers,
        checks=[not_a_server_error, error_in_its_face_envelope],
    )
    ANSWERED[case.operation.label].add(response.status_code)


def test_the_fuzzing_got_past_authentication() -> None:
    """A run where every request was refused at the door would prove nothing:
    the reads of each credential answered 200 at least once."""
    if not ANSWERED:
        pytest.skip("the fuzzing test did not run in this session")
    for label in ("GET /api/v1/auth/me", "GET /api/v1/sessions/me", "GET /api/v1/contacts"):
        assert 200 in ANSWERED[label], (label, ANSWERED[label])


def test_stateful_workflows_answer_no_server_error(
    api_schema: Any, credentials: Credentials
) -> None:
    """Chains of calls along the links schemathesis infers (create a session,
    then read, patch, restart, delete it; create a phone, then link, message…)."""
    workflow = api_schema.as_state_machine()

    class Authenticated(workflow):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": credentials.headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(
                response,
                checks=[not_a_server_error, error_in_its_face_envelope],
                transport_kwargs=kwargs,
            )

    Authenticated.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
