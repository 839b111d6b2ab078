"""The gateway's side of the engine host: an :class:`~wagate.engines.base.Engine`
whose engine runs in a supervised child process.

To the session manager this is just another engine. Behind it, a supervisor
starts the host process, talks to it over a :class:`~wagate.engines.sandbox.channel.Channel`
and, when the host dies (a Go ``fatal error``, a kill), reports its sessions
disconnected with ``will_retry`` (the engine reconnects them itself), starts a
new host, and resumes every session that was running: linked ones without a
QR, since the engine's credentials are on disk. Calls meanwhile fail with
:class:`~wagate.engines.base.NotConnectedError`, so sends wait in their queue.

Which sessions are linked is kept as for a remote sandbox
(:class:`~wagate.engines.sandbox.linked.LinkedSessions`), so ``is_linked``
answers at once while the host is away, and a logout it could not hear is told
to the next host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from wagate.engines.base import (
    DisconnectedEvent,
    DisconnectReason,
    EngineContext,
    EngineError,
    EngineEvent,
    FailedEvent,
    IncomingMedia,
    LoggedOutEvent,
    NotConnectedError,
)
from wagate.engines.forwarding import ForwardedCalls
from wagate.engines.host.process import HostProcess, HostStartError
from wagate.engines.sandbox.channel import Channel, ChannelLost
from wagate.engines.sandbox.ids import new_message_id
from wagate.engines.sandbox.linked import LinkedSessions
from wagate.engines.sandbox.remote_control import RemoteControl

logger = logging.getLogger("wagate.engines.host")

RESTART_DELAYS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # after 1, 2, 3... deaths in a row
STEADY_SECONDS = 60.0  # a host that lived this long was not crash-looping
FINISH_EVENTS_SECONDS = 30.0


class HostedEngine(ForwardedCalls):
    """An engine in the engine host, supervised from here."""

    def __init__(self, name: str, context: EngineContext) -> None:
        self.name = name
        self._context = context
        settings = context.settings
        self._start_timeout = settings.engine_host_start_timeout
        self._keepalive = settings.keepalive_seconds
        # The sandbox's phones and faults, when the hosted engine is the sandbox.
        self.control = RemoteControl(self)
        self.url = f"engine host ({name})"
        self.restarts = 0
        self.ready = asyncio.Event()
        self._process: HostProcess | None = None
        self._channel: Channel | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._linked = LinkedSessions(context.data_dir / "engine-host" / f"{name}-sessions.json")
        self._running: set[str] = set()  # started and not stopped: resumed after a restart
        self._closing = False

    @property
    def pid(self) -> int | None:
        """The host process's id, while one runs."""
        return self._process.pid if self._process is not None else None

    # -- engine-wide -------------------------------------------------------------

    async def open(self) -> None:
        await self._linked.load()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"engine-host-{self.name}")
        try:
            await asyncio.wait_for(self.ready.wait(), self._start_timeout)
        except TimeoutError:
            logger.error("the %s engine host is not ready yet; sessions wait for it", self.name)

    async def close(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        await self._let_go()

    async def _let_go(self) -> None:
        self.ready.clear()
        channel, self._channel = self._channel, None
        if channel is not None:
            # What a dead host told us before it died is still news; at close, not.
            await channel.close(finish_events=0.0 if self._closing else FINISH_EVENTS_SECONDS)
        process, self._process = self._process, None
        if process is not None:
            await process.stop()

    # -- the supervisor ------------------------------------------------------------

    async def _supervise(self) -> None:
        deaths = 0
        while True:
            started = time.monotonic()
            try:
                await self._start_host()
            except (HostStartError, EngineError) as exc:
                logger.error("the %s engine host did not start: %s", self.name, exc)
            except Exception:  # the supervisor must outlive anything a start does
                logger.exception("the %s engine host did not start", self.name)
            else:
                code = await self._process.wait() if self._process is not None else -1
                logger.error("the %s engine host ended (exit %s); restarting it", self.name, code)
            await self._host_gone()
            deaths = 1 if time.monotonic() - started > STEADY_SECONDS else deaths + 1
            await asyncio.sleep(RESTART_DELAYS[min(deaths, len(RESTART_DELAYS)) - 1])
            self.restarts += 1

    async def _start_host(self) -> None:
        process = HostProcess(self.name, self._context.settings, start_timeout=self._start_timeout)
        self._process = process
        url = await process.start()
        channel = Channel(
            url,
            self._deliver,
            on_lost=process.kill,  # a host we cannot talk to is a dead host
            keepalive=self._keepalive,
            peer=f"the {self.name} engine host",
        )
        self._channel = channel
        await self._catch_up(channel)
        self.ready.set()
        logger.info("the %s engine host is ready (pid %s)", self.name, process.pid)
        running = sorted(self._running)
        outcomes = await asyncio.gather(
            *(channel.call("start_session", session_id=s) for s in running),
            return_exceptions=True,
        )
        for session_id, outcome in zip(running, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                logger.warning("session %s did not resume in the new host: %s", session_id, outcome)

    async def _catch_up(self, channel: Channel) -> None:
        await self._linked.replay_logouts(
            lambda session_id: channel.call("logout", session_id=session_id)
        )
        known = sorted(self._linked.linked | self._running)
        await self._linked.replace(await channel.call("linked", session_ids=known))

    async def _host_gone(self) -> None:
        await self._let_go()
        if self._closing:
            return
        detail = f"the {self.name} engine host stopped; the session resumes when it is back"
        for session_id in sorted(self._running):
            event = DisconnectedEvent(session_id, DisconnectReason.NETWORK, True, detail)
            await self._emit(event)

    # -- calls -----------------------------------------------------------------------

    async def call(self, op: str, **args: Any) -> Any:
        """Forward one request to the host; NotConnectedError while there is none."""
        channel = self._channel
        if channel is None or not self.ready.is_set():
            raise NotConnectedError(f"the {self.name} engine host is restarting")
        try:
            return await channel.call(op, **args)
        except ChannelLost as exc:
            raise NotConnectedError(f"the {self.name} engine host is restarting") from exc

    async def start_session(self, session_id: str) -> None:
        self._running.add(session_id)
        try:
            await self.call("start_session", session_id=session_id)
        except NotConnectedError as exc:
            # The supervisor starts it with the next host.
            await self._emit(
                DisconnectedEvent(session_id, DisconnectReason.NETWORK, True, str(exc))
            )

    async def request_pairing_code(self, session_id: str, phone_number: str) -> str:
        self._running.add(session_id)
        code: str = await self.call(
            "request_pairing_code", session_id=session_id, phone_number=phone_number
        )
        return code

    async def stop_session(self, session_id: str) -> None:
        self._running.discard(session_id)
        with contextlib.suppress(NotConnectedError):  # no host: nothing runs to stop
            await self.call("stop_session", session_id=session_id)

    async def logout(self, session_id: str) -> None:
        self._running.discard(session_id)
        await self._linked.logout(session_id, lambda: self.call("logout", session_id=session_id))

    def is_linked(self, session_id: str) -> bool:
        return session_id in self._linked

    def new_message_id(self, session_id: str) -> str:
        # Made here, without a round trip: WhatsApp Web's format, as both engines make it.
        return new_message_id()

    async def download_media(self, session_id: str, media: IncomingMedia) -> bytes:
        data: bytes = await self.call("download_media", session_id=session_id, media=media)
        return data

    # -- events ----------------------------------------------------------------------

    async def _deliver(self, event: EngineEvent) -> None:
        await self._linked.note(event)
        if isinstance(event, LoggedOutEvent | FailedEvent) or (
            isinstance(event, DisconnectedEvent) and not event.will_retry
        ):
            self._running.discard(event.session_id)  # the session manager decides what next
        await self._emit(event)

    async def _emit(self, event: EngineEvent) -> None:
        try:
            await self._context.emit(event)
        except Exception:
            logger.exception("handling %s for %s failed", type(event).__name__, event.session_id)
