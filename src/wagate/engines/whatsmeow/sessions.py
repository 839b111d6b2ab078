"""The sessions of the whatsmeow engine: starting, stopping, logging out, routing calls.

Everything about one session's run lives in :mod:`.runtime`; what the core asks
of a linked session is in :mod:`.operations`. :mod:`.engine` is the thin shim
the registry loads, so that neonize is imported only when an engine is created.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time

from wagate.engines.base import (
    EngineContext,
    EngineError,
    GroupInfo,
    IncomingMedia,
    LoggedOutEvent,
    NotConnectedError,
    NotLinkedError,
    NumberCheck,
    OutgoingMessage,
    PairingCodeEvent,
    Presence,
    SendReceipt,
)
from wagate.engines.whatsmeow import operations
from wagate.engines.whatsmeow.client import SessionClientFactory
from wagate.engines.whatsmeow.executor import DaemonExecutor
from wagate.engines.whatsmeow.inbound import handle_inbound
from wagate.engines.whatsmeow.runtime import SessionRun
from wagate.engines.whatsmeow.shared import Shared
from wagate.engines.whatsmeow.store import DeviceStore, whatsmeow_dsn
from wagate.jid import InvalidJidError, normalize_number

logger = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 20.0


class WhatsmeowSessions:
    """Many gateway sessions, one whatsmeow store, one thread pool."""

    def __init__(self, context: EngineContext) -> None:
        self._context = context
        settings = context.settings
        self._dsn = whatsmeow_dsn(settings, context.data_dir)
        self._store = DeviceStore(settings, context.data_dir)
        self._factory = SessionClientFactory(self._dsn)
        self._shared: Shared | None = None
        self._runs: dict[str, SessionRun] = {}
        self._old_runs: set[SessionRun] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    # -- engine-wide -----------------------------------------------------------------

    async def open(self) -> None:
        await self._store.open()
        linked = await self._store.sessions()
        settings = self._context.settings
        self._shared = Shared(
            settings=settings,
            emit=self._context.emit,
            store=self._store,
            factory=self._factory,
            executor=DaemonExecutor(settings.whatsmeow_worker_threads),
            linked=linked,
        )

    async def close(self) -> None:
        shared = self._shared
        runs = [*self._runs.values(), *self._old_runs]
        self._runs.clear()
        self._old_runs.clear()
        await asyncio.gather(*(run.shutdown() for run in runs), return_exceptions=True)
        if shared is not None:
            for task in list(shared.background):
                task.cancel()
            await asyncio.gather(*shared.background, return_exceptions=True)
            shared.executor.shutdown(wait=False, cancel_futures=True)
        await self._store.close()
        self._shared = None
        self._locks.clear()

    def _require_open(self) -> Shared:
        if self._shared is None:
            raise EngineError("the whatsmeow engine is not open")
        return self._shared

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    # -- session lifecycle ------------------------------------------------------------

    async def start_session(self, session_id: str) -> None:
        shared = self._require_open()
        async with self._lock(session_id):
            current = self._runs.get(session_id)
            if current is not None and current.alive:
                return
            if current is not None:
                await self._retire(current)
            device = shared.linked.get(session_id)
            if device is not None and device not in await self._store.device_jids():
                await self._store.forget_session(session_id)
                shared.linked.pop(session_id, None)
                detail = "the device's keys are gone from the whatsmeow store; link it again"
                await self._context.emit(LoggedOutEvent(session_id, detail=detail))
                return
            run = SessionRun(shared, session_id, handle_inbound)
            self._runs[session_id] = run
            await run.start()

    async def _retire(self, run: SessionRun) -> None:
        """Wait (bounded) for a stopping run to end; keep it until close if it lingers."""
        try:
            await asyncio.wait_for(asyncio.shield(run.stop()), STOP_WAIT_SECONDS)
        except TimeoutError:
            logger.warning("whatsmeow %s: the previous run did not end in time", run.session_id)
        self._old_runs.add(run)
        for old in list(self._old_runs):
            if old.finished:
                self._old_runs.discard(old)

    async def stop_session(self, session_id: str) -> None:
        self._require_open()
        async with self._lock(session_id):
            run = self._runs.pop(session_id, None)
            if run is not None:
                await self._retire(run)

    async def logout(self, session_id: str) -> None:
        shared = self._require_open()
        async with self._lock(session_id):
            run = self._runs.pop(session_id, None)
            if run is not None:
                await operations.logout_online(run)
                await self._retire(run)
            device = shared.linked.pop(session_id, None)
            if device is not None:
                await self._store.delete_device(device)
            await self._store.forget_session(session_id)

    def is_linked(self, session_id: str) -> bool:
        return self._shared is not None and session_id in self._shared.linked

    def _linked_run(self, session_id: str) -> SessionRun:
        shared = self._require_open()
        run = self._runs.get(session_id)
        if run is None or not run.alive:
            if session_id not in shared.linked:
                raise NotLinkedError("the session has no linked device")
            raise NotConnectedError("the session is not running")
        if run.usable_client() is None:
            raise NotConnectedError("the session is still connecting")
        return run

    # -- linking ----------------------------------------------------------------------

    async def request_pairing_code(self, session_id: str, phone_number: str) -> str:
        shared = self._require_open()
        if session_id in shared.linked:
            raise EngineError("the session is already linked; log it out to link another phone")
        try:
            digits = normalize_number(phone_number)
        except InvalidJidError as exc:
            raise EngineError(f"phone number: {exc}") from exc
        run = self._runs.get(session_id)
        if run is None or not run.alive:
            await self.start_session(session_id)
            run = self._runs.get(session_id)
        if run is None:
            raise NotConnectedError("the link attempt did not start")
        code = await operations.pair_phone(run, digits, shared.settings.whatsmeow_connect_timeout)
        await self._context.emit(PairingCodeEvent(session_id, code, digits))
        return code

    def new_message_id(self, session_id: str) -> str:
        """whatsmeow's own id format (``3EB0`` + 18 hex digits)."""
        run = self._runs.get(session_id)
        client = run.usable_client() if run is not None else None
        # Go reads its client tables here, on the loop: only while no start or stop
        # holds them; otherwise the same format is made below.
        if client is not None and run is not None and run.shared.tables.try_shared():
            try:
                return SessionClientFactory.generate_message_id(client)
            except Exception:  # fall back to the same format below
                logger.debug("whatsmeow %s: id generator failed", session_id, exc_info=True)
            finally:
                run.shared.tables.release_shared()
        seed = time.time_ns().to_bytes(8, "big") + session_id.encode() + os.urandom(16)
        return "3EB0" + hashlib.sha256(seed).hexdigest()[:18].upper()

    # -- what a linked session does ---------------------------------------------------

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt:
        return await operations.send(self._linked_run(session_id), message)

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]:
        return await operations.check_numbers(self._linked_run(session_id), numbers)

    async def list_groups(self, session_id: str) -> list[GroupInfo]:
        return await operations.list_groups(self._linked_run(session_id))

    async def get_group(self, session_id: str, jid: str) -> GroupInfo:
        return await operations.get_group(self._linked_run(session_id), jid)

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None = None
    ) -> None:
        await operations.mark_read(self._linked_run(session_id), chat, message_ids, sender)

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None:
        await operations.send_presence(self._linked_run(session_id), chat, presence)

    async def download_media(self, session_id: str, media: IncomingMedia) -> bytes:
        return await operations.download_media(self._linked_run(session_id), media)
