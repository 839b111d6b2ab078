"""A gateway serving the real WhatsApp engine on a machine that cannot reach
WhatsApp: it stays healthy, says why each session is not connected, keeps
retrying with growing delays, and deletes sessions cleanly."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import httpx
import pytest

pytest.importorskip("neonize", reason="the whatsmeow engine needs neonize")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens here once the socket is closed


def _poll(check: Any, what: str, timeout: float) -> Any:
    """The gateway is another process: observe it by asking."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_five_sessions_without_network_fail_to_connect_and_keep_retrying(
    gateway_process: Any,
) -> None:
    gateway = gateway_process(
        WAGATE_ENGINES="whatsmeow",
        # Every connection goes through a proxy on loopback that refuses it:
        # the offline path, without a packet leaving the machine.
        WAGATE_WHATSMEOW_PROXY_URL=f"http://127.0.0.1:{closed_port()}",
        WAGATE_RECONNECT_BASE_SECONDS="0.2",
        WAGATE_RECONNECT_MAX_SECONDS="2",
    )
    gateway.start()
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        login = http.post(
            "/api/v1/auth/login",
            json={"email": "admin@example.com", "password": "admin-password-1"},
        )
        auth = {"Authorization": f"Bearer {login.json()['data']['token']}"}
        ids = [
            http.post("/api/v1/sessions", json={"name": f"real {i}"}, headers=auth).json()["data"][
                "sessionId"
            ]
            for i in range(5)
        ]

        def all_failing() -> bool:
            for session_id in ids:
                status = http.get(f"/api/v1/sessions/{session_id}/status", headers=auth).json()
                data = status["data"]
                if (data["state"], data["reason"]) != ("disconnected", "connect_failure"):
                    return False
            return True

        started = time.monotonic()
        _poll(all_failing, "every session to report connect_failure", 30)
        assert time.monotonic() - started < 30

        health_started = time.monotonic()
        assert http.get("/health").status_code == 200
        assert time.monotonic() - health_started < 1.0

        def attempts(session_id: str) -> list[int]:
            pattern = rf"session {session_id} reconnects in [0-9.]+s \(attempt (\d+)\)"
            return [int(n) for n in re.findall(pattern, gateway.log_text())]

        _poll(lambda: len(attempts(ids[0])) >= 4, "four reconnect attempts", 30)
        delays = [
            float(d)
            for d in re.findall(rf"session {ids[0]} reconnects in ([0-9.]+)s", gateway.log_text())
        ]
        assert attempts(ids[0])[:4] == [1, 2, 3, 4]
        assert max(delays[2:4]) > min(delays[:2])  # the waits grow

        for session_id in ids:
            deleted = http.delete(f"/api/v1/sessions/{session_id}", headers=auth)
            assert deleted.status_code == 200, deleted.text
        listed = http.get("/api/v1/sessions", headers=auth).json()["data"]["sessions"]
        assert listed == []
        assert http.get("/health").status_code == 200
    gateway.stop()
    # uvicorn re-raises SIGTERM after a graceful shut-down, hence -15.
    assert gateway.process.returncode in (0, -15)
    assert "Application shutdown complete" in gateway.log_text()
    assert "Traceback" not in gateway.log_text()
