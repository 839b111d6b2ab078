"""Live device connections, and the road every event takes to a device.

Each connection has its own queue and one task that hands events to the
device's sink in order, after the network's latency. An event is handed over
once the sink returns (a remote device's sink returns once its engine
acknowledged the event); one the sink failed to take, and those queued behind
it, go back to the front of the inbox. Events for a linked session that is not
connected wait in its inbox, as WhatsApp keeps them for an offline device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from wagate.engines.base import EngineEvent, EventSink, NetworkError
from wagate.engines.sandbox.state import NetworkState

logger = logging.getLogger("wagate.sandbox.hub")

CLOSE_WAIT_SECONDS = 5.0
_Item = tuple[float, EngineEvent] | None  # None ends the pump


class DeviceConnection:
    def __init__(
        self,
        session_id: str,
        sink: EventSink,
        phone_number: str | None,
        *,
        latency: Callable[[], float],
        on_broken: Callable[[DeviceConnection], None],
    ) -> None:
        self.session_id = session_id
        self.sink = sink
        self.phone_number = phone_number  # None while the device is still being linked
        self._latency = latency
        self._on_broken = on_broken
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._open = True
        self._in_sink = False
        self._held: EngineEvent | None = None  # taken from the queue, not yet handed over
        self.aborted = False
        self.keeps_undelivered = True
        self._task = asyncio.create_task(self._pump(), name=f"sandbox-device-{session_id}")

    @property
    def linked(self) -> bool:
        return self.phone_number is not None

    def push(self, event: EngineEvent) -> bool:
        if not self._open:
            return False
        self._queue.put_nowait((self._loop.time() + self._latency(), event))
        return True

    def finish(self, final_event: EngineEvent) -> None:
        """Deliver what is queued, then ``final_event``, then stop."""
        if self.push(final_event):
            self._queue.put_nowait(None)
        self._open = False

    async def abort(self, *, keep_undelivered: bool = True) -> list[EngineEvent]:
        """Stop now and give back what was not handed over. An event in the sink is
        the sink's to settle: if it fails, ``on_broken`` hears of it after this."""
        self._open = False
        self.aborted = True
        self.keeps_undelivered = keep_undelivered
        undelivered, self._held = [self._held] if self._held is not None else [], None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                undelivered.append(item[1])
        # An event being handled is never cut off midway (the handler may be
        # the one closing us); the pump stops right after it.
        if not self._in_sink and asyncio.current_task() is not self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return undelivered

    @property
    def pump(self) -> asyncio.Task[None]:
        return self._task

    def take_held(self) -> list[EngineEvent]:
        held, self._held = self._held, None
        return [] if held is None else [held]

    async def _pump(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            due, event = item
            self._held = event
            delay = due - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._held = None
            self._in_sink = True
            try:
                await self.sink(event)
            except Exception as exc:
                # A remote device gone mid-event is ordinary (its gateway died or
                # reconnected); anything else deserves its traceback.
                logger.warning(
                    "device %s stopped taking events: %s",
                    self.session_id,
                    exc,
                    exc_info=not isinstance(exc, NetworkError),
                )
                self._held = event
                self._open = False
                self._on_broken(self)
                return
            finally:
                self._in_sink = False
            if not self._open and self._queue.empty():
                return


class ConnectionHub:
    def __init__(self, state: NetworkState, on_change: Callable[[], None]) -> None:
        self.latency_ms = 0.0
        self._state = state
        self._on_change = on_change
        self._connections: dict[str, DeviceConnection] = {}
        self._cleanups: set[asyncio.Task[None]] = set()

    def get(self, session_id: str) -> DeviceConnection | None:
        return self._connections.get(session_id)

    def session_ids(self) -> list[str]:
        return list(self._connections)

    def open(self, session_id: str, sink: EventSink, phone_number: str | None) -> DeviceConnection:
        connection = DeviceConnection(
            session_id,
            sink,
            phone_number,
            latency=lambda: self.latency_ms / 1000,
            on_broken=self._broken,
        )
        self._connections[session_id] = connection
        return connection

    def push(self, session_id: str, event: EngineEvent) -> None:
        """To the live connection only, linked or not (QR codes, link outcomes)."""
        connection = self._connections.get(session_id)
        if connection is not None:
            connection.push(event)

    def deliver(self, session_id: str, event: EngineEvent) -> None:
        """To a linked device: now if it is connected, else when it next connects."""
        connection = self._connections.get(session_id)
        if connection is not None and connection.linked and connection.push(event):
            return
        self._state.queue_for_later(session_id, [event])
        self._on_change()

    def deliver_to_account(
        self, number: str, make: Callable[[str], EngineEvent], *, skip: str | None = None
    ) -> None:
        for session_id in self._state.sessions_of(number):
            if session_id != skip:
                self.deliver(session_id, make(session_id))

    def drop(self, session_id: str, final_event: EngineEvent) -> bool:
        connection = self._connections.pop(session_id, None)
        if connection is None:
            return False
        connection.finish(final_event)
        return True

    async def close_quietly(
        self,
        session_id: str,
        *,
        keep_undelivered: bool = True,
        only_sink: EventSink | None = None,
    ) -> None:
        """Close without telling the device; what it missed waits in its inbox."""
        connection = self._connections.get(session_id)
        if connection is None or (only_sink is not None and connection.sink != only_sink):
            return
        del self._connections[session_id]
        undelivered = await connection.abort(keep_undelivered=keep_undelivered)
        if keep_undelivered:
            self._requeue(session_id, undelivered)
        if not connection.pump.done():  # an event is still in its sink
            self._cleanups.add(connection.pump)
            connection.pump.add_done_callback(self._cleanups.discard)

    def _requeue(self, session_id: str, undelivered: list[EngineEvent]) -> None:
        if session_id in self._state.links and undelivered:
            self._state.requeue_first(session_id, undelivered)
            self._on_change()

    async def close_all(self) -> None:
        for session_id in list(self._connections):
            await self.close_quietly(session_id)
        # Pumps settle the event in their sink (a remote one fails at once, its
        # socket being closed), so it is back in the inbox before the state is saved.
        if self._cleanups:
            await asyncio.wait(set(self._cleanups), timeout=CLOSE_WAIT_SECONDS)

    def _broken(self, connection: DeviceConnection) -> None:
        if self._connections.get(connection.session_id) is not connection:
            if connection.aborted and connection.keeps_undelivered:
                # Closed while this event was in the sink: what was queued behind
                # it is back in the inbox already, so it goes in front of those.
                self._requeue(connection.session_id, connection.take_held())
            return
        task = asyncio.create_task(
            self.close_quietly(connection.session_id, only_sink=connection.sink)
        )
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
