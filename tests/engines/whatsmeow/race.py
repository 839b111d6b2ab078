"""The client-table race, run through the whatsmeow engine in a process of its own.

One linked session generates message ids and sends while other sessions start
and stop, for a bounded time. Without ordering, Go aborts the process with
``fatal error: concurrent map read and map write`` (exit 2, not catchable), so
the test that runs this script asserts the process ends cleanly and says what it did.

WhatsApp is a loopback "proxy": it holds the first session's connection
unanswered (its client stays in Go's tables, mid-dial) and closes every other
one at once (those starts fail fast and stop, writing the tables). The first
session is then linked the way neonize reports it (its device record, then
``Connected``), so the engine calls Go for it: ``GenerateMessageID``, and
``SendMessage``, which reads the tables and refuses (the Go client never
logged in) without waiting for the dial.

Usage: ``python race.py DATA_DIR SECONDS CHURNING_SESSIONS``
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from neonize.aioze.events import ConnectedEv
from neonize.proto.Neonize_pb2 import Device

from conftest import ME, Protos, offline_settings
from wagate.engines.base import (
    ConnectedEvent,
    EngineContext,
    EngineError,
    EngineEvent,
    OutgoingMessage,
)
from wagate.engines.registry import create_engine
from wagate.engines.whatsmeow.engine import WhatsmeowEngine

DEVICE_JID = f"{ME}:17@s.whatsapp.net"
DEVICE, CONNECTED = 0, 3


async def loopback_whatsapp() -> tuple[asyncio.Server, asyncio.Event]:
    """Holds the first connection forever, closes every later one: returns (server, held)."""
    held = asyncio.Event()
    kept: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not held.is_set():
            kept.append(writer)
            held.set()
            return
        writer.close()

    return await asyncio.start_server(accept, "127.0.0.1", 0), held


async def main(data_dir: Path, seconds: float, churning: int) -> None:
    server, held = await loopback_whatsapp()
    port = server.sockets[0].getsockname()[1]
    settings = offline_settings(data_dir, port, whatsmeow_probe_network=False)

    linked = asyncio.Event()

    async def emit(event: EngineEvent) -> None:
        if isinstance(event, ConnectedEvent) and event.session_id == "linked":
            linked.set()

    engine = create_engine("whatsmeow", EngineContext(settings, emit, data_dir))
    assert isinstance(engine, WhatsmeowEngine)
    await engine.open()
    await engine.start_session("linked")
    await asyncio.wait_for(held.wait(), 30)  # Go dials: its client is in its tables
    run = engine._sessions._runs["linked"]
    device = Device(
        JID=Protos.jid(ME, device=17),
        LID=Protos.jid("999", "lid"),
        Platform="",
        BussinessName="",
        PushName="Shop",
        Initialized=True,
    )
    run.on_event(DEVICE, device)
    run.on_event(CONNECTED, ConnectedEv(status=True))
    await asyncio.wait_for(linked.wait(), 30)
    assert run.usable_client() is not None and run.connected

    counts = {"ids": 0, "sends": 0, "refused": 0, "starts": 0}
    deadline = time.monotonic() + seconds

    async def generate_ids() -> None:
        while time.monotonic() < deadline:
            engine.new_message_id("linked")
            counts["ids"] += 1
            await asyncio.sleep(0)

    async def send() -> None:
        message = OutgoingMessage("3EB0RACE", "15550002222@s.whatsapp.net", "text", text="hi")
        while time.monotonic() < deadline:
            try:
                await engine.send("linked", message)
            except EngineError:
                counts["refused"] += 1
            counts["sends"] += 1

    async def churn(n: int) -> None:
        while time.monotonic() < deadline:
            await engine.start_session(f"churn{n}")
            counts["starts"] += 1
            await asyncio.sleep(0.01 * n)
            await engine.stop_session(f"churn{n}")

    await asyncio.gather(generate_ids(), send(), *(churn(n) for n in range(churning)))
    print(json.dumps(counts), flush=True)
    # The linked session's Go call still dials, and threads wait in Go: nothing joins them.
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
