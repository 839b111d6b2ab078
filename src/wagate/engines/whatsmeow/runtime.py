"""One session's run against WhatsApp: its neonize client, its phases, its events.

Phases of a run::

    CONNECTING --first QR--> PAIRING --device record--> LINKED --> ENDED
         \\---------------device record (resume)---------/

Go's callbacks only put items on the run's queue; one pump task maps them to
wagate events in order and emits them. What makes stopping delicate is neonize
itself (see docs/whatsapp.md, "Known limits"): its Go ``Stop`` is only safe once
the device record has arrived (LINKED) or the Go call has returned; before that
a run is disconnected and *abandoned* instead, never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable
from typing import Any

from neonize.aioze.events import ConnectedEv

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    EngineError,
    EngineEvent,
    FailedEvent,
    LoggedOutEvent,
)
from wagate.engines.whatsmeow import connection, presence
from wagate.engines.whatsmeow.client import (
    DEVICE_EVENT,
    GoCalls,
    SessionClient,
    SessionClientFactory,
)
from wagate.engines.whatsmeow.errors import translate
from wagate.engines.whatsmeow.inbound import INBOUND_CODES
from wagate.engines.whatsmeow.shared import SessionMemory, Shared, probe

logger = logging.getLogger(__name__)

GATE_SECONDS = 0.5  # how long a start holds the tables while Go sets them up, at most
DRAIN_SECONDS = 10.0  # how long a stop waits for calls in flight
QR_CODES = 6  # whatsmeow's QR channel hands out six codes before it gives up


class Phase(enum.Enum):
    CONNECTING = "connecting"
    PAIRING = "pairing"
    LINKED = "linked"
    ENDED = "ended"


class SessionRun:
    """A session from ``start_session`` until its client is released."""

    def __init__(self, shared: Shared, session_id: str, on_message: Callable[..., Any]) -> None:
        self.shared = shared
        self.session_id = session_id
        self.phase = Phase.CONNECTING
        self.connected = False
        self.closing = False
        self.identity: connection.Identity | None = None
        self.client: SessionClient | None = None
        self.calls: GoCalls | None = None
        self.pairing_ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.memory = SessionMemory()
        self.marking_online: asyncio.Task[bool] | None = None
        self._on_message = on_message  # async (run, neonize code, event) for messages & groups
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._connect_task: asyncio.Task[Any] | None = None
        self._gate_held = False
        self._gate_timer: asyncio.TimerHandle | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._qr_count = 0
        self._qr_deadline = 0.0
        self._go_returned = False
        self._go_stopped = False
        self._stopping_go = False

    @property
    def linked(self) -> bool:
        return self.session_id in self.shared.linked

    @property
    def alive(self) -> bool:
        return self.phase is not Phase.ENDED and not self.closing

    @property
    def finished(self) -> bool:
        """Ended, with nothing left running for it (its pump has finished)."""
        return self.ended.is_set() and (self._pump is None or self._pump.done())

    def usable_client(self) -> SessionClient | None:
        """The client, when Go calls on it are safe: linked, running, not being stopped."""
        if self.phase is Phase.LINKED and not self.closing and not self._go_stopped:
            return self.client
        return None

    # -- Go threads hand over here -------------------------------------------------

    def _put(self, item: tuple[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: nobody listens any more
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def on_qr(self, code: str) -> None:
        self._put(("qr", code))

    def on_login_status(self, status: str) -> None:
        self._put(("status", status))

    def on_event(self, code: int, event: Any) -> None:
        self._put(("event", (code, event)))

    # -- starting --------------------------------------------------------------------

    def start_pump(self) -> None:
        """Start handling what Go hands over (``start`` does this first)."""
        if self._pump is None:
            name = f"whatsmeow-{self.session_id}"
            self._pump = self._loop.create_task(self._run_pump(), name=name)

    async def start(self) -> None:
        settings = self.shared.settings
        self.start_pump()
        problem = await probe(settings) if settings.whatsmeow_probe_network else None
        if problem is not None:
            await self.emit(
                DisconnectedEvent(self.session_id, DisconnectReason.CONNECT_FAILURE, False, problem)
            )
            await self._end()
            return
        self.calls = GoCalls(
            self._loop, self.shared.executor, self.session_id, self._go_return, self.shared.tables
        )
        self.client = self.shared.factory.new_session_client(
            self,
            self.calls,
            device_jid=self.shared.linked.get(self.session_id),
            device_name=settings.whatsmeow_device_name,
            history=settings.whatsmeow_history_sync,
            history_days=settings.whatsmeow_history_days,
        )
        # Go writes its client tables as the Neonize call begins; until a sign of
        # life (or GATE_SECONDS) no other call may read them.
        if not await self.shared.tables.exclusive(DRAIN_SECONDS):
            detail = "calls of other sessions did not finish in time; trying again later"
            reason = DisconnectReason.NETWORK
            await self.emit(DisconnectedEvent(self.session_id, reason, False, detail))
            await self._end()
            return
        self._gate_held = True
        self._gate_timer = self._loop.call_later(GATE_SECONDS, self._release_gate)
        self._watchdog = self._loop.call_later(
            settings.whatsmeow_connect_timeout, self._put, ("watchdog", None)
        )
        try:
            level = settings.whatsmeow_log_level
            self._connect_task = await self.client.start(settings.whatsmeow_proxy_url, level)
            self._connect_task.add_done_callback(_consume_outcome)
        except Exception as exc:  # building the client's arguments failed
            self._release_gate()
            await self.emit(self._failure(str(exc)))
            await self._end()
            return

    def _go_return(self, error: str | None) -> None:
        self._put(("ended", error))

    def _release_gate(self) -> None:
        if self._gate_timer is not None:
            self._gate_timer.cancel()
            self._gate_timer = None
        if self._gate_held:
            self._gate_held = False
            self.shared.tables.release_exclusive()

    def _sign_of_life(self) -> None:
        """Go handed something over: it has set up its tables for this client."""
        self._release_gate()
        self._stop_watchdog()

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    # -- the pump --------------------------------------------------------------------

    async def _run_pump(self) -> None:
        """Handle Go's items in order until the Go call has returned (or never began)."""
        while not (self.ended.is_set() and (self.client is None or self._go_returned)):
            kind, value = await self._queue.get()
            try:
                await self._handle(kind, value)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("whatsmeow %s: failed to handle %s", self.session_id, kind)

    async def _handle(self, kind: str, value: Any) -> None:
        if kind == "qr":
            await self._on_qr(value)
        elif kind == "status":
            await self._on_status(value)
        elif kind == "event":
            code, event = value
            await self._on_event(code, event)
        elif kind == "watchdog":
            if self.phase is Phase.CONNECTING and not self.closing:
                timeout = self.shared.settings.whatsmeow_connect_timeout
                detail = f"no answer from WhatsApp within {timeout:g} s; gave up this attempt"
                reason = DisconnectReason.CONNECT_FAILURE
                await self.emit(DisconnectedEvent(self.session_id, reason, False, detail))
                await self._abandon()
        elif kind == "ended":
            await self._on_ended(value)

    async def _on_qr(self, code: str) -> None:
        self._sign_of_life()
        if self.phase is Phase.CONNECTING:
            self.phase = Phase.PAIRING
        if self.phase is not Phase.PAIRING:
            return
        if self.closing:  # stopped while connecting, and it turned out to be a link attempt
            await self._abandon()
            return
        event = connection.qr_event(self.session_id, code, self._qr_count)
        self._qr_count += 1
        self._qr_deadline = time.monotonic() + event.expires_in
        self.pairing_ready.set()
        await self.emit(event)

    async def _on_status(self, status: str) -> None:
        self._sign_of_life()
        if self.closing or status in ("success", "code"):
            return
        ran_out = self._qr_count >= QR_CODES or time.monotonic() >= self._qr_deadline - 2.0
        event = connection.login_status_event(self.session_id, status, codes_ran_out=ran_out)
        if event is None:
            return
        await self.emit(event)
        await self._abandon()  # the Go call now waits forever for a link that never came

    async def _on_event(self, code: int, event: Any) -> None:
        if code == DEVICE_EVENT:
            await self._on_device(event)
            return
        if code in INBOUND_CODES:  # whatsmeow has acknowledged these: never drop them
            await self._on_message(self, code, event)
            return
        if self.phase is Phase.ENDED or self.closing:
            return
        mapped = connection.map_connection_event(
            self.session_id, event, identity=self.identity, linked=self.linked
        )
        if mapped is None:
            return
        if isinstance(mapped, ConnectedEvent):
            self.connected = True
            if isinstance(event, ConnectedEv) and self.shared.settings.whatsmeow_mark_online:
                self._mark_online()
        elif isinstance(mapped, DisconnectedEvent | LoggedOutEvent | FailedEvent):
            self.connected = False
        if isinstance(mapped, LoggedOutEvent):
            await self._forget_link()
        await self.emit(mapped)
        ends = isinstance(mapped, LoggedOutEvent | FailedEvent)
        if ends or (isinstance(mapped, DisconnectedEvent) and not mapped.will_retry):
            self.shared.spawn(self.stop())

    def _mark_online(self) -> None:
        if self.marking_online is not None:
            self.marking_online.cancel()
        self.marking_online = self.shared.spawn(presence.mark_online(self))

    async def _on_device(self, device: Any) -> None:
        self._sign_of_life()
        self.phase = Phase.LINKED
        identity = connection.identity_of(device)
        if self.closing:
            self.shared.spawn(self._stop_go())
            return
        if identity is None:
            return
        self.identity = identity
        if identity.lid:
            self.memory.pn_for_lid[identity.lid] = identity.jid
        if self.shared.linked.get(self.session_id) != identity.device_jid:
            self.shared.linked[self.session_id] = identity.device_jid
            await self.shared.store.save_session(
                self.session_id, identity.device_jid, identity.push_name
            )

    async def _on_ended(self, error: str | None) -> None:
        self._sign_of_life()
        if not self.closing and self.phase is not Phase.ENDED:
            if error is not None:
                await self.emit(self._failure(error))
            else:
                detail = "the WhatsApp client stopped"
                reason = DisconnectReason.UNKNOWN
                await self.emit(DisconnectedEvent(self.session_id, reason, False, detail))
        self._go_returned = True
        if self.client is not None and self.calls is not None and not self._go_stopped:
            # safe once the Go call returned and no other call is under way
            self.calls.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.calls.idle.wait(), DRAIN_SECONDS)
            if self.calls.idle.is_set():
                await self._go_stop(self.client.go_id)
        await self._end()

    def _failure(self, error: str) -> EngineEvent:
        translated = translate(RuntimeError(error), operation="connect")
        reason = DisconnectReason.CONNECT_FAILURE
        return DisconnectedEvent(self.session_id, reason, False, f"{translated.message}: {error}")

    # -- stopping --------------------------------------------------------------------

    async def stop(self) -> None:
        """Drop the connection and release the client; safe in every phase, and prompt."""
        if self.closing or self.phase is Phase.ENDED:
            await self.ended.wait()
            return
        self.closing = True
        self.connected = False
        if self.calls is not None:
            self.calls.close()
        if self.phase is not Phase.LINKED:  # never Stop before the device record: abandon
            await self._abandon()
            return
        self.shared.spawn(self._stop_go())
        try:
            await asyncio.wait_for(asyncio.shield(self.ended.wait()), DRAIN_SECONDS)
        except TimeoutError:  # calls still in flight: _stop_go finishes the job later
            await self._abandon()

    async def _stop_go(self) -> None:
        """Stop a LINKED client: close its socket, let calls drain, drop it from Go's tables."""
        client, calls = self.client, self.calls
        if client is None or calls is None:
            await self._end()
            return
        if self._stopping_go:
            return
        self._stopping_go = True
        calls.close()
        await self._go(SessionClientFactory.go_disconnect, client.go_id)
        await calls.idle.wait()  # a call queued after Stop would find no client and crash Go
        await self._go_stop(client.go_id)
        # the Go call returns now; its "ended" item finishes the run

    async def _abandon(self) -> None:
        """Leave the Go call running (it cannot be stopped safely) and release the run.

        Its socket is closed in the background (that waits while a dial hangs); a
        late device record still stops it, a late return still clears Go's tables.
        """
        self.closing = True
        if self.client is not None:
            self.shared.spawn(self._go(SessionClientFactory.go_disconnect, self.client.go_id))
        if self.calls is not None:
            self.calls.close()
            self.calls.abandon()
        await self._end()

    async def _end(self) -> None:
        # Not a sign of life: an abandoned Go call may still be writing its tables,
        # so the start's hold lasts until Go speaks or GATE_SECONDS pass.
        self._stop_watchdog()
        self.phase = Phase.ENDED
        self.connected = False
        if self.client is not None:
            self.shared.factory.release(self.client)
        self.ended.set()
        self._put(("wake", None))  # lets the pump notice it may finish

    async def shutdown(self) -> None:
        """Engine close: stop, but never wait longer than the drain time."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.stop()), DRAIN_SECONDS + 5)
        if self.calls is not None:
            self.calls.abandon()  # ends neonize's connect task without its unsafe Stop
        await self._end()
        if self._connect_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._connect_task, 1.0)
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump

    # -- helpers ---------------------------------------------------------------------

    async def _go(self, function: Callable[[bytes], None], go_id: bytes) -> None:
        """A call that reads Go's client tables (``Disconnect``)."""
        try:
            await self.shared.tables.call(self.shared.executor, function, go_id)
        except Exception:
            logger.exception("whatsmeow %s: %s failed", self.session_id, function.__name__)

    async def _go_stop(self, go_id: bytes) -> None:
        """``Stop`` deletes from Go's client tables: nothing else may touch them meanwhile."""
        if not await self.shared.tables.exclusive(DRAIN_SECONDS):
            # Left in Go's tables (its socket is closed): a leak, never a crash.
            logger.warning("whatsmeow %s: calls in flight kept Stop from running", self.session_id)
            return
        try:
            self._go_stopped = True
            await self._go_unordered(SessionClientFactory.go_stop, go_id)
        finally:
            self.shared.tables.release_exclusive()

    async def _go_unordered(self, function: Callable[[bytes], None], go_id: bytes) -> None:
        try:
            await self._loop.run_in_executor(self.shared.executor, function, go_id)
        except Exception:
            logger.exception("whatsmeow %s: %s failed", self.session_id, function.__name__)

    async def _forget_link(self) -> None:
        self.shared.linked.pop(self.session_id, None)
        try:
            await self.shared.store.forget_session(self.session_id)
        except EngineError:
            logger.exception("whatsmeow %s: could not forget the link", self.session_id)

    async def emit(self, event: EngineEvent) -> None:
        try:
            await self.shared.emit(event)
        except Exception:
            logger.exception("whatsmeow %s: the event sink failed on %r", self.session_id, event)


def _consume_outcome(task: asyncio.Task[Any]) -> None:
    """neonize's connect task fails when the Go call does; that is reported elsewhere."""
    if not task.cancelled():
        task.exception()
