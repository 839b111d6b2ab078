"""Threads for neonize's blocking calls into Go, kept off the event loop.

Every neonize call is a blocking foreign call. Short ones (send, upload, group
info) go to :class:`DaemonExecutor`, a pool sized by the setting
``whatsmeow_worker_threads``; the one call that lasts as long as a session's
connection (``Neonize``) gets a thread of its own from :func:`run_in_daemon_thread`,
so a hundred linked sessions never starve the pool.

Both use daemon threads: a Go call that never returns (neonize has such paths,
see docs/whatsapp.md) must not keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar, cast

T = TypeVar("T")

_names = itertools.count(1)


class _WorkItem:
    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class DaemonExecutor(Executor):
    """A thread pool whose threads are daemons, started on demand up to ``max_workers``."""

    def __init__(self, max_workers: int, name: str = "wagate-whatsmeow") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False

    @property
    def max_workers(self) -> int:
        return self._max_workers

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            future: Future[T] = Future()
            self._queue.put(_WorkItem(future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._max_workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{next(_names)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
            return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.put(None)  # wake the next worker too
                return
            item.run()
            del item
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item.future.cancel()
            self._queue.put(None)
        if wait:
            for thread in list(self._threads):
                thread.join()


def run_in_daemon_thread(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any, name: str
) -> asyncio.Future[T]:
    """Run ``fn(*args)`` on a new daemon thread; the result arrives as an asyncio future."""
    result: asyncio.Future[T] = loop.create_future()

    def deliver(value: Any, error: BaseException | None) -> None:
        if result.done():
            return
        if error is not None:
            result.set_exception(error)
        else:
            result.set_result(cast(T, value))

    def target() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = fn(*args)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(deliver, value, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    return result
