"""The app's outer shell: health, readiness, docs, unknown routes, request ids, errors."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI


async def test_health_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_unknown_route_answers_the_error_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Route not found"},
    }


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert len(response.headers["x-request-id"]) >= 8
    echoed = await client.get("/health", headers={"x-request-id": "trace-12345678"})
    assert echoed.headers["x-request-id"] == "trace-12345678"


async def test_a_crash_answers_500_without_a_traceback(app: FastAPI) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "INTERNAL_ERROR"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"] in error["message"]


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/auth/register" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_the_access_log_names_the_full_route_and_no_secrets(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wagate.access")
    await client.post(
        "/api/v1/auth/login?token=leaky", json={"email": "x@example.com", "password": "hunter22"}
    )
    [line] = [r.getMessage() for r in caplog.records if r.name == "wagate.access"]
    assert line.startswith("POST /api/v1/auth/login 401 ")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("wagate"))
    assert "leaky" not in ours
    assert "hunter22" not in ours
