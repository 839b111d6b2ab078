"""``wagate serve`` as a newcomer runs it: a real process answering on a port."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


def test_serve_answers_health_and_prints_a_generated_admin_login(
    gateway_process: Callable[..., Any],
) -> None:
    gateway = gateway_process(WAGATE_ADMIN_PASSWORD="")
    gateway.start()
    assert httpx.get(f"{gateway.base_url}/health").json() == {"status": "ok"}
    log = gateway.log_text()
    assert "wagate admin login" in log
    password = log.split("password: ", 1)[1].split()[0]
    login = httpx.post(
        f"{gateway.base_url}/api/v1/auth/login",
        json={"email": "admin@example.com", "password": password},
    )
    assert login.status_code == 200
    gateway.stop()

    gateway.start()
    assert gateway.log_text().count("wagate admin login") == 1
