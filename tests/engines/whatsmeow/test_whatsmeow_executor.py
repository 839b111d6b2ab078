"""The threads neonize's blocking calls run on: bounded, daemon, never the event loop."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError

import pytest

from wagate.engines.whatsmeow.executor import DaemonExecutor, run_in_daemon_thread


async def test_pool_runs_calls_on_daemon_threads_up_to_its_size() -> None:
    executor = DaemonExecutor(max_workers=3)
    loop = asyncio.get_running_loop()
    release = threading.Event()
    started = threading.Semaphore(0)
    seen: set[str] = set()

    def blocking() -> bool:
        seen.add(threading.current_thread().name)
        started.release()
        release.wait(10)
        return threading.current_thread().daemon

    calls = [loop.run_in_executor(executor, blocking) for _ in range(5)]
    for _ in range(3):  # three start at once; two wait for a free thread
        assert await asyncio.to_thread(started.acquire, True, 10)
    assert len(seen) == 3
    release.set()
    assert await asyncio.gather(*calls) == [True] * 5
    assert len(seen) == 3
    executor.shutdown(wait=True)


async def test_shutdown_cancels_what_has_not_started() -> None:
    executor = DaemonExecutor(max_workers=1)
    gate = threading.Event()
    first = executor.submit(gate.wait, 10)
    queued = executor.submit(lambda: "never")
    executor.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert first.result(10) is True
    with pytest.raises(CancelledError):
        queued.result(10)
    with pytest.raises(RuntimeError):
        executor.submit(lambda: None)


async def test_long_call_gets_its_own_thread_and_errors_come_back() -> None:
    loop = asyncio.get_running_loop()
    name = await run_in_daemon_thread(loop, lambda: threading.current_thread().name, name="wm-x")
    assert name == "wm-x"

    def fails() -> None:
        raise ValueError("from Go")

    with pytest.raises(ValueError, match="from Go"):
        await run_in_daemon_thread(loop, fails, name="wm-y")
