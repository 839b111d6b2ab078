"""``wagate demo`` walks a newcomer through the product against a running server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def test_the_demo_links_a_phone_and_messages_both_ways(gateway_process: Any) -> None:
    gateway = gateway_process()
    gateway.start()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wagate",
            "demo",
            "--url",
            gateway.base_url,
            "--email",
            "admin@example.com",
            "--password",
            "admin-password-1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "connected as 1555" in out
    assert "the gateway received: 'Hi! Is the blue one in stock?'" in out
    assert "queued → sent → delivered → read" in out
    assert out.rstrip().endswith("/docs to explore the API.")
