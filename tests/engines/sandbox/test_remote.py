"""The sandbox as its own process: an engine reaches it over a WebSocket, and survives it dying."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wagate.config import Settings
from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    EngineEvent,
    InvalidRecipientError,
    MessageEvent,
    NetworkError,
    OutgoingMessage,
    QrCodeEvent,
    ReceiptEvent,
)
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.remote import RemoteNetwork
from wagate.engines.sandbox.remote_control import RemoteControl
from wagate.engines.sandbox.testing import EngineHarness, EventRecorder

ALICE, BOB = "15550001111", "15550002222"
READY = "sandbox listening on "


@dataclass
class SandboxProcess:
    """``python -m wagate.engines.sandbox`` on a data folder, restartable on the same port."""

    data_dir: Path
    log_path: Path
    port: int = 0
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGATE_")}
        env.update({"WAGATE_SANDBOX_QR_INTERVAL": "0.5", "WAGATE_LOG_LEVEL": "WARNING"})
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "wagate.engines.sandbox",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        if not line.decode().startswith(READY):
            raise RuntimeError(f"sandbox did not start: {line!r}\n{self.log_path.read_text()}")
        self.port = int(line.decode().strip().rstrip("/").rsplit(":", 1)[1])

    async def kill(self) -> None:
        """``kill -9``: nothing is flushed on the way out."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 20)


@pytest.fixture
async def sandbox_process(tmp_path: Path) -> AsyncIterator[SandboxProcess]:
    process = SandboxProcess(tmp_path / "sandbox-data", tmp_path / "sandbox.log")
    await process.start()
    yield process
    await process.stop()


@pytest.fixture
async def remote_gateway(
    sandbox_process: SandboxProcess, tmp_path: Path
) -> AsyncIterator[EngineHarness]:
    settings = Settings(
        data_dir=tmp_path / "gateway", sandbox_url=sandbox_process.url, keepalive_seconds=5
    )
    harness = await EngineHarness.open(settings, tmp_path / "gateway")
    assert harness.engine.remote
    yield harness
    await harness.engine.close()


async def test_link_and_message_through_the_sandbox_process(
    remote_gateway: EngineHarness,
) -> None:
    gateway = remote_gateway
    await gateway.link("s1", ALICE, "Alice")
    phone, created = await gateway.control.create_phone(BOB, "Bob")
    assert created and phone["number"] == BOB

    message = OutgoingMessage(gateway.engine.new_message_id("s1"), BOB, "text", text="hi Bob")
    receipt = await gateway.engine.send("s1", message)
    assert receipt.message_id == message.message_id
    assert (await gateway.events.next(ReceiptEvent)).status == "delivered"

    photo = os.urandom(200_000)
    await gateway.control.send_message(
        BOB, {"to": ALICE, "type": "image", "media": photo, "mimetype": "image/png"}
    )
    incoming = await gateway.events.next(MessageEvent)
    assert incoming.message.media is not None
    assert await gateway.engine.download_media("s1", incoming.message.media) == photo

    with pytest.raises(InvalidRecipientError):
        await gateway.engine.send("s1", OutgoingMessage("3EB0AA", "15559999999", "text", text="?"))
    with pytest.raises(SandboxError) as missing:
        await gateway.control.get_phone("15559999999")
    assert (missing.value.code, missing.value.status) == ("NOT_FOUND", 404)


async def test_the_sandbox_dying_and_coming_back(
    remote_gateway: EngineHarness, sandbox_process: SandboxProcess
) -> None:
    gateway = remote_gateway
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)

    await sandbox_process.kill()
    dropped = await gateway.events.next(DisconnectedEvent)
    assert (dropped.session_id, dropped.reason, dropped.will_retry) == (
        "s1",
        DisconnectReason.NETWORK,
        False,
    )
    message = OutgoingMessage(gateway.engine.new_message_id("s1"), BOB, "text", text="hello?")
    with pytest.raises(NetworkError):
        await gateway.engine.send("s1", message)
    with pytest.raises(NetworkError):
        await gateway.engine.start_session("s1")
    with pytest.raises(SandboxError) as unavailable:
        await gateway.control.list_phones()
    assert unavailable.value.status == 503
    assert gateway.engine.is_linked("s1")

    await sandbox_process.start()  # same port, same data
    await gateway.engine.start_session("s1")
    connected = await gateway.events.next(ConnectedEvent)
    assert connected.phone_number == ALICE
    assert len(gateway.events.of(QrCodeEvent)) == 1  # only the one the first link showed
    await gateway.engine.send("s1", message)
    assert (await gateway.events.next(ReceiptEvent)).message_ids == (message.message_id,)


async def test_a_restarted_gateway_knows_its_linked_sessions_before_it_reconnects(
    remote_gateway: EngineHarness, sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    await remote_gateway.link("s1", ALICE)
    await remote_gateway.engine.close()

    settings = Settings(data_dir=tmp_path / "gateway", sandbox_url=sandbox_process.url)
    again = await EngineHarness.open(settings, tmp_path / "gateway")
    try:
        assert again.engine.is_linked("s1")
        await again.engine.start_session("s1")
        assert (await again.events.next(ConnectedEvent)).phone_number == ALICE
    finally:
        await again.engine.close()


async def test_a_logout_the_sandbox_missed_is_told_when_it_is_back(
    remote_gateway: EngineHarness, sandbox_process: SandboxProcess
) -> None:
    gateway = remote_gateway
    await gateway.link("s1", ALICE)
    await sandbox_process.kill()
    await gateway.events.next(DisconnectedEvent)
    with pytest.raises(NetworkError):
        await gateway.engine.logout("s1")
    assert not gateway.engine.is_linked("s1")

    await sandbox_process.start()
    await gateway.engine.start_session("s1")
    assert (await gateway.events.next(QrCodeEvent, lambda e: e.session_id == "s1")).code
    assert (await gateway.control.get_phone(ALICE))["linkedSessions"] == []


async def _a_gateway_that_dies_before_storing(url: str, cache: Path) -> tuple[RemoteNetwork, str]:
    """Connect s1, take BOB's messages one, two, three off the socket and store
    none of them (its sink never returns), then close as a killed process would:
    no acknowledgement ever sent. Returns the network and the first message's id."""
    taken = asyncio.Event()
    first: list[str] = []

    async def never_stores(event: EngineEvent) -> None:
        if isinstance(event, MessageEvent):
            first.append(event.message.message_id)
            taken.set()
            await asyncio.Event().wait()

    network = RemoteNetwork(url, cache)
    await network.open()
    await network.connect("s1", never_stores, resume=True)
    control = RemoteControl(network)
    for text in ("one", "two", "three"):
        await control.send_message(BOB, {"to": ALICE, "text": text})
    await asyncio.wait_for(taken.wait(), 5)
    return network, first[0]


async def _texts_on_connecting(url: str, cache: Path, count: int) -> list[MessageEvent]:
    events = EventRecorder()
    network = RemoteNetwork(url, cache)
    await network.open()
    try:
        await network.connect("s1", events, resume=True)
        await events.next(ConnectedEvent)
        return [await events.next(MessageEvent) for _ in range(count)]
    finally:
        await network.close()


async def test_events_a_gateway_never_acknowledged_come_again_in_order(
    remote_gateway: EngineHarness, sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    await remote_gateway.link("s1", ALICE)
    await remote_gateway.control.create_phone(BOB)
    await remote_gateway.engine.close()

    dying, first_id = await _a_gateway_that_dies_before_storing(
        sandbox_process.url, tmp_path / "dying.json"
    )
    await dying.close()

    again = await _texts_on_connecting(sandbox_process.url, tmp_path / "again.json", 3)
    assert [e.message.text for e in again] == ["one", "two", "three"]
    assert (
        again[0].message.message_id == first_id
    )  # the same message, for the gateway to de-duplicate

    # Acknowledged now: the next connection gets only what is new.
    later = RemoteNetwork(sandbox_process.url, tmp_path / "later.json")
    await later.open()
    await RemoteControl(later).send_message(BOB, {"to": ALICE, "text": "four"})
    await later.close()
    [next_one] = await _texts_on_connecting(sandbox_process.url, tmp_path / "later.json", 1)
    assert next_one.message.text == "four"


async def test_unacknowledged_events_survive_a_restart_of_the_sandbox(
    remote_gateway: EngineHarness, sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    await remote_gateway.link("s1", ALICE)
    await remote_gateway.control.create_phone(BOB)
    await remote_gateway.engine.close()

    dying, _ = await _a_gateway_that_dies_before_storing(
        sandbox_process.url, tmp_path / "dying.json"
    )
    await sandbox_process.stop()  # SIGTERM with one event in flight and two queued
    await dying.close()
    await sandbox_process.start()

    again = await _texts_on_connecting(sandbox_process.url, tmp_path / "again.json", 3)
    assert [e.message.text for e in again] == ["one", "two", "three"]
