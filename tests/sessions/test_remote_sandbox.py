"""The gateway on a sandbox network in another process (``wagate sandbox serve``):
killing that process is a real dropped connection, and sessions come back when
it returns."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def settings_overrides(sandbox_process: Any) -> dict[str, object]:
    return {"sandbox_url": sandbox_process.url}


async def test_killing_the_sandbox_process_disconnects_and_its_return_reconnects(
    sandbox_process: Any, user: Any, session_tools: Any
) -> None:
    sandbox = sandbox_process
    linked = await session_tools.link(user.headers)

    sandbox.kill()
    status = await session_tools.wait_state(user.headers, linked.session_id, "disconnected")
    assert status["reason"] == "network"

    sandbox.start()
    status = await session_tools.wait_state(user.headers, linked.session_id, "connected", 30)
    assert status["phoneNumber"] == linked.phone
