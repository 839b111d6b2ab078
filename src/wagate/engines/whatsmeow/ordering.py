"""The order of neonize calls against Go's client tables.

neonize keeps its clients in plain Go maps (``clients``, ``eventChannel``,
``StopSignal``) with no lock: the ``Neonize`` call that starts a client writes
them, ``Stop`` deletes from them, and every other call (send, upload, look-ups,
``GenerateMessageID``, ``Disconnect``) reads them. A read while another thread
writes is Go's ``fatal error: concurrent map read and map write``, which ends the
whole process and cannot be caught. So every call takes :class:`ClientTables`
shared, and a start or a stop takes it exclusive.

Each neonize function reads the tables once, as it begins (after decoding its
arguments); what follows may wait on the network for a long time (``Disconnect``
waits for a dial that hangs). So a call holds the tables until it returns or
until :data:`READ_SECONDS` after Go began it, whichever comes first: a call
that hangs in Go never holds up the starts and stops of other sessions.

Why not ``aiorwlock``: it binds a hold to the task that took it, and a start's
hold is released by a timer or by the run's pump, not by the task that took it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

READ_SECONDS = 0.25  # how long after Go began a call its read of the tables is surely done


class ClientTables:
    """A reader-writer lock on the event loop, fair to both sides.

    Once a start or stop waits, new calls queue behind it; when it is done, the
    calls that queued meanwhile all go before the next start or stop, so a burst
    of reconnects never starves sends (nor do sends starve a stop). A hold may be
    released from any task or callback. :meth:`try_shared` never waits, for the
    few calls made synchronously on the loop.
    """

    def __init__(self) -> None:
        self._readers = 0
        self._writing = False
        self._waiting_writers: deque[asyncio.Future[None]] = deque()
        self._waiting_readers: list[asyncio.Future[None]] = []
        self._readers_turn = False

    @property
    def writing(self) -> bool:
        return self._writing

    def try_shared(self) -> bool:
        """Take a shared hold now if no start or stop holds or awaits the tables."""
        if self._writing or self._waiting_writers:
            return False
        self._readers += 1
        return True

    async def shared(self) -> None:
        if self.try_shared():
            return
        granted = asyncio.get_running_loop().create_future()
        self._waiting_readers.append(granted)
        await self._wait(granted, self._waiting_readers.remove, self.release_shared)

    def release_shared(self) -> None:
        self._readers -= 1
        self._wake()

    async def exclusive(self, patience: float) -> bool:
        """Take the tables for a start or a stop; False if calls outlast ``patience`` seconds."""
        if not self._writing and self._readers == 0 and not self._waiting_writers:
            self._grant_writer()
            return True
        granted = asyncio.get_running_loop().create_future()
        self._waiting_writers.append(granted)
        try:
            async with asyncio.timeout(patience):
                await self._wait(granted, self._waiting_writers.remove, self.release_exclusive)
        except TimeoutError:
            return False
        return True

    def release_exclusive(self) -> None:
        self._writing = False
        self._wake()

    async def call(self, executor: Executor, function: Callable[..., Any], *args: Any) -> Any:
        """Run a neonize function that reads the tables on ``executor``, in order."""
        loop = asyncio.get_running_loop()
        await self.shared()
        timer: asyncio.TimerHandle | None = None
        held = True

        def release() -> None:
            nonlocal held
            if timer is not None:
                timer.cancel()
            if held:
                held = False
                self.release_shared()

        def began() -> None:
            nonlocal timer
            if held:
                timer = loop.call_later(READ_SECONDS, release)

        def run() -> Any:
            with contextlib.suppress(RuntimeError):  # the loop closed
                loop.call_soon_threadsafe(began)
            return function(*args)

        running = executor.submit(run)
        # Released from Go's return, not the caller's: a cancelled caller's call still runs.
        running.add_done_callback(lambda _: _soon(loop, release))
        return await asyncio.wrap_future(running, loop=loop)

    async def _wait(
        self,
        granted: asyncio.Future[None],
        forget: Callable[[asyncio.Future[None]], None],
        give_back: Callable[[], None],
    ) -> None:
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                give_back()  # granted just as we were cancelled
            else:
                with contextlib.suppress(ValueError):
                    forget(granted)
                self._wake()
            raise

    def _wake(self) -> None:
        if self._writing:
            return
        while self._waiting_writers and self._waiting_writers[0].done():
            self._waiting_writers.popleft()  # cancelled while waiting
        if self._waiting_readers and (self._readers_turn or not self._waiting_writers):
            self._readers_turn = False
            waiting, self._waiting_readers = self._waiting_readers, []
            for granted in waiting:
                if not granted.done():
                    self._readers += 1
                    granted.set_result(None)
            return
        if self._waiting_writers and self._readers == 0:
            self._grant_writer()
            self._waiting_writers.popleft().set_result(None)

    def _grant_writer(self) -> None:
        self._writing = True
        self._readers_turn = True  # the calls that queued meanwhile go before the next writer


def _soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
        loop.call_soon_threadsafe(callback)
