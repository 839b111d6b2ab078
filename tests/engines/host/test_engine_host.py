"""The sandbox engine in the engine host: the host is a real child process, and
SIGKILL stands in for a Go fatal error. The gateway must notice no more than a
short disconnect. The sandbox network runs in a process of its own, as WhatsApp
does: killing the host kills the engine, not the network."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from wagate.engines.host import HostedEngine


@pytest.fixture
def settings_overrides(sandbox_process: Any) -> dict[str, object]:
    return {
        "engine_hosted": ["sandbox"],
        "sandbox_url": sandbox_process.url,
        "send_wait_seconds": 0.2,
    }


async def send(client: httpx.AsyncClient, api_key: str, to: str, text: str) -> str:
    response = await client.post(
        "/api/v1/messages/send", json={"to": to, "text": text}, headers={"x-api-key": api_key}
    )
    assert response.status_code in (200, 201, 202), response.text
    status: str = response.json()["data"]["status"]
    return status


async def texts_received(
    client: httpx.AsyncClient, headers: dict[str, str], phone: str
) -> list[str]:
    response = await client.get(
        f"/sandbox/v1/phones/{phone}/messages", params={"limit": 500}, headers=headers
    )
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["data"]["messages"] if m["direction"] == "in"]


async def test_sessions_resume_and_queued_sends_go_out_once_after_the_host_is_killed(
    app: FastAPI, client: httpx.AsyncClient, user: Any, session_tools: Any, wait_until: Any
) -> None:
    engine = app.state.session_manager.engines["sandbox"]
    assert isinstance(engine, HostedEngine)
    first_pid = engine.pid
    assert first_pid is not None and first_pid != os.getpid()
    sessions = [await session_tools.link(user.headers, f"Shop {n}") for n in range(2)]
    customer = await session_tools.phone(user.headers)

    answered: list[int] = []

    async def keep_asking_health() -> None:
        while True:
            answered.append((await client.get("/health")).status_code)
            await asyncio.sleep(0.02)

    health = asyncio.create_task(keep_asking_health())
    expected: list[str] = []
    try:
        for linked in sessions:  # some of these are in the engine's hands at the kill
            for n in range(5):
                expected.append(f"{linked.session_id[:8]} before {n}")
                await send(client, linked.api_key, customer, expected[-1])
        os.kill(first_pid, signal.SIGKILL)
        for linked in sessions:  # these wait in the queue for the new host
            status = await session_tools.wait_state(user.headers, linked.session_id, "disconnected")
            assert status["reason"] == "network"
            for n in range(5):
                expected.append(f"{linked.session_id[:8]} during {n}")
                assert await send(client, linked.api_key, customer, expected[-1]) == "queued"

        await asyncio.wait_for(engine.ready.wait(), 60)
        restarted = time.monotonic()
        assert engine.pid not in (None, first_pid) and engine.restarts == 1
        for linked in sessions:  # resumed without a new QR: no phone scanned anything
            status = await session_tools.wait_state(user.headers, linked.session_id, "connected")
            assert status["phoneNumber"] == linked.phone
        assert time.monotonic() - restarted < 10

        async def all_arrived() -> bool:
            return len(await texts_received(client, user.headers, customer)) >= len(expected)

        await wait_until(all_arrived, 30, "every queued send to reach the phone")
    finally:
        health.cancel()
    received = Counter(await texts_received(client, user.headers, customer))
    assert received == Counter(expected)  # each exactly once
    assert answered and set(answered) == {200}


def engine_hosts_of(parent: int) -> list[int]:
    """The engine host processes ``parent`` started."""
    hosts = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
        if ppid == parent and b"wagate.engines.host" in command:
            hosts.append(int(entry.name))
    return hosts


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_host_ends_with_a_gateway_killed_without_warning(gateway_process: Any) -> None:
    gateway = gateway_process(WAGATE_ENGINE_HOSTED="sandbox")
    gateway.start(timeout=60)
    assert gateway.process is not None
    hosts = engine_hosts_of(gateway.process.pid)
    assert len(hosts) == 1, hosts
    gateway.kill()  # no shutdown hook runs: the host notices its stdin closing
    deadline = time.monotonic() + 15
    while alive(hosts[0]) and time.monotonic() < deadline:
        time.sleep(0.1)  # another process ending: nothing here to await
    assert not alive(hosts[0]), "the engine host outlived its gateway"
