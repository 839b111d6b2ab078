"""The whatsmeow engine with WhatsApp out of reach: failures stay per session and bounded,
the event loop keeps running, and stopping releases everything.

WhatsApp is "unreachable" through a loopback proxy: one that refuses connections
(no network) or one that accepts and never answers (a hanging network).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from wagate.engines.base import (
    DisconnectedEvent,
    DisconnectReason,
    Engine,
    EngineError,
    LoggedOutEvent,
    NotConnectedError,
    NotLinkedError,
    OutgoingMessage,
)
from wagate.engines.registry import create_engine
from wagate.engines.whatsmeow.engine import WhatsmeowEngine
from wagate.engines.whatsmeow.store import DeviceStore, whatsmeow_dsn

DEVICE = "15550001111:17@s.whatsapp.net"


async def opened(context: Any) -> WhatsmeowEngine:
    engine = create_engine("whatsmeow", context)
    assert isinstance(engine, WhatsmeowEngine) and isinstance(engine, Engine)
    await engine.open()
    return engine


async def go_threads_end(timeout: float = 20.0) -> None:
    """Every long Go call (thread ``wm-<session>``) has returned."""
    for thread in [t for t in threading.enumerate() if t.name.startswith("wm-")]:
        await asyncio.to_thread(thread.join, timeout)
        assert not thread.is_alive(), f"{thread.name} still runs"


def test_wagate_imports_without_loading_neonize() -> None:
    code = textwrap.dedent(
        """
        import logging, sys
        import wagate.engines.registry, wagate.engines.whatsmeow.engine
        assert "neonize" not in sys.modules, "imported too early"
        from wagate.engines.whatsmeow.loader import load_neonize
        load_neonize()
        assert "neonize.aioze.client" in sys.modules
        assert logging.getLogger().handlers == [], "neonize configured the root logger"
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_no_network_is_a_connect_failure(make_context: Any, recorder: Any) -> None:
    engine = await opened(make_context())
    try:
        started = time.monotonic()
        await engine.start_session("s1")
        event = await recorder.wait_for(DisconnectedEvent, "s1", timeout=30)
        assert time.monotonic() - started < 30
        assert event.reason is DisconnectReason.CONNECT_FAILURE
        assert not event.will_retry  # nothing retries by itself: the session manager does
        assert event.detail is not None and "127.0.0.1" in event.detail
        assert not engine.is_linked("s1")
        with pytest.raises(NotLinkedError):
            await engine.send("s1", OutgoingMessage("m1", "15550002222@s.whatsapp.net", "text"))
    finally:
        await engine.close()


async def test_no_network_through_whatsmeow_itself(make_context: Any, recorder: Any) -> None:
    engine = await opened(make_context(whatsmeow_probe_network=False))
    try:
        await engine.start_session("s1")
        event = await recorder.wait_for(DisconnectedEvent, "s1", timeout=30)
        assert event.reason is DisconnectReason.CONNECT_FAILURE and not event.will_retry
        assert event.detail is not None and "connection refused" in event.detail
    finally:
        await engine.close()
    await go_threads_end()


async def test_five_hanging_sessions_leave_the_event_loop_free(
    make_context: Any, recorder: Any, silent_proxy: Any
) -> None:
    context = make_context(silent_proxy.port, whatsmeow_connect_timeout=1.5)
    engine = await opened(context)
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beating = asyncio.create_task(heartbeat())
    sessions = [f"s{i}" for i in range(5)]
    try:
        await asyncio.gather(*(engine.start_session(s) for s in sessions))
        for session in sessions:
            event = await recorder.wait_for(DisconnectedEvent, session, timeout=30)
            assert event.reason is DisconnectReason.CONNECT_FAILURE
            assert event.detail is not None and "no answer" in event.detail
        assert len(gaps) > 50 and max(gaps) < 0.25, f"the loop stalled {max(gaps):.3f} s"
        started = time.monotonic()
        await asyncio.gather(*(engine.stop_session(s) for s in sessions))
        await engine.close()
        assert time.monotonic() - started < 5
    finally:
        beating.cancel()
        await engine.close()
    await silent_proxy.close()  # the dials now fail, and the Go calls return
    await go_threads_end()


async def test_stop_logout_and_close_release_everything(make_context: Any, recorder: Any) -> None:
    engine = await opened(make_context(whatsmeow_probe_network=False))
    await engine.start_session("s1")
    await recorder.wait_for(DisconnectedEvent, "s1")
    await engine.stop_session("s1")
    await engine.logout("s1")  # never linked: nothing to remove, no error
    await engine.stop_session("never-started")
    recorder.events.clear()
    await engine.start_session("s1")  # a second run of the same session
    await recorder.wait_for(DisconnectedEvent, "s1")
    await engine.close()
    await go_threads_end()
    assert engine._sessions._factory.clients == []
    with pytest.raises(EngineError):
        await engine.start_session("s1")  # closed


async def test_linked_session_whose_keys_are_gone_is_logged_out(
    make_context: Any, recorder: Any, tmp_path: Path
) -> None:
    context = make_context()
    store = DeviceStore(context.settings, context.data_dir)
    await store.open()
    await store.save_session("s1", DEVICE, "Shop")
    await store.close()
    engine = await opened(context)
    try:
        assert engine.is_linked("s1")
        await engine.start_session("s1")
        event = await recorder.wait_for(LoggedOutEvent, "s1")
        assert event.reason is DisconnectReason.LOGGED_OUT_BY_PHONE
        assert not engine.is_linked("s1")
    finally:
        await engine.close()


async def test_linked_session_resumes_with_its_device_and_logout_forgets_it(
    make_context: Any, recorder: Any, whatsmeow_db: Any
) -> None:
    context = make_context(whatsmeow_probe_network=False)
    context.data_dir.mkdir(parents=True)
    whatsmeow_db.create_tables(whatsmeow_dsn(context.settings, context.data_dir))
    whatsmeow_db.fake_device(context.data_dir / "whatsmeow.db", DEVICE)
    store = DeviceStore(context.settings, context.data_dir)
    await store.open()
    await store.save_session("s1", DEVICE, "Shop")
    engine = await opened(context)
    try:
        await engine.start_session("s1")  # resumes: no QR, straight to connecting
        event = await recorder.wait_for(DisconnectedEvent, "s1")
        assert event.reason is DisconnectReason.CONNECT_FAILURE
        assert engine.is_linked("s1")  # a failed connect keeps the credentials
        await engine.logout("s1")
        assert not engine.is_linked("s1")
        assert await store.device_jids() == set()
        assert await store.sessions() == {}
    finally:
        await engine.close()
        await store.close()
    await go_threads_end()


async def test_message_ids_and_pairing_codes_offline(make_context: Any) -> None:
    engine = await opened(make_context())
    try:
        ids = {engine.new_message_id("s1") for _ in range(100)}
        assert len(ids) == 100
        assert all(re.fullmatch(r"3EB0[0-9A-F]{18}", i) for i in ids)
        with pytest.raises(EngineError):
            await engine.request_pairing_code("s1", "not a number")
        with pytest.raises(NotConnectedError):
            await engine.request_pairing_code("s1", "+1 555 000 1111")
    finally:
        await engine.close()


def test_process_exits_while_whatsmeow_still_dials(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import asyncio, socket
        from pathlib import Path
        from wagate.config import Settings
        from wagate.engines.base import EngineContext
        from wagate.engines.registry import create_engine

        async def main():
            silent = socket.socket()  # listens, never accepts: a dial that hangs
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            port = silent.getsockname()[1]
            data = Path({str(tmp_path)!r})
            settings = Settings(
                data_dir=data,
                whatsmeow_proxy_url=f"http://127.0.0.1:{{port}}",
                whatsmeow_connect_timeout=60,
            )
            async def emit(event):
                pass
            engine = create_engine("whatsmeow", EngineContext(settings, emit, data))
            await engine.open()
            for n in range(3):
                await engine.start_session(f"s{{n}}")
            await asyncio.sleep(0.5)  # the Go calls are now stuck in their dials
            await engine.close()

        asyncio.run(main())
        print("exited cleanly")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "exited cleanly" in done.stdout
    assert "Traceback" not in done.stderr and "was destroyed" not in done.stderr, done.stderr
