"""The outbound queue: one worker per session sends its queued messages in order.

The queue is the ``messages`` table itself (outgoing rows in ``queued`` or
``sending``), so a crash or restart loses nothing: workers start again from
the head. A message is marked ``sending`` (committed, through the database's
batch writer) before the engine is called; one still ``sending`` after a crash
is sent again with the same message id, which the network treats as the same
message, so nothing arrives twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics.metrics import Metrics
from wagate.config import Settings
from wagate.engines.base import (
    ContactCard,
    Engine,
    EngineError,
    Location,
    MediaContent,
    NotConnectedError,
    OutgoingMessage,
    RateLimitedError,
    Reaction,
)
from wagate.messages import service
from wagate.messages.media import MediaStore
from wagate.messages.models import Message, MessageStatus
from wagate.messages.repository import MessageRepository
from wagate.sessions.backoff import reconnect_delay
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.base import utcnow
from wagate.storage.db import Database, after_commit

logger = logging.getLogger(__name__)

# Engine tries of one message before a temporary error becomes final: each
# hand-over to the engine counts once, when the message is marked ``sending``.
MAX_ATTEMPTS = 8
BATCH = 32


@dataclass(frozen=True, slots=True)
class _Taken:
    """Messages marked ``sending`` (committed), and the engine to hand them to."""

    engine_name: str
    messages: list[Message]


class OutboundQueue:
    def __init__(
        self,
        database: Database,
        manager: SessionManager,
        media: MediaStore,
        settings: Settings,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
        self.manager = manager
        self.media = media
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._workers: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._wakeups: defaultdict[uuid.UUID, asyncio.Event] = defaultdict(asyncio.Event)
        self._outcomes: defaultdict[int, list[asyncio.Future[str]]] = defaultdict(list)
        self._last_sent: dict[uuid.UUID, float] = {}
        self._closing = False

    async def start(self) -> None:
        self.manager.on_connected(self.wake)
        async with self.database.transaction() as db:
            pending = await MessageRepository(db).sessions_with_pending()
        for session_id in pending:
            self.wake(session_id)

    async def close(self) -> None:
        self._closing = True
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def wake(self, session_id: uuid.UUID) -> None:
        """Something may be sendable for this session: start or nudge its worker."""
        if self._closing:
            return
        self._wakeups[session_id].set()
        worker = self._workers.get(session_id)
        if worker is None or worker.done():
            self._workers[session_id] = asyncio.create_task(
                self._run(session_id), name=f"send-queue-{session_id}"
            )

    def expect(self, message_seq: int) -> asyncio.Future[str]:
        """A future for a message's first outcome (``sent`` or ``failed``). Take it
        before the message can be sent, so the outcome cannot slip past."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._outcomes[message_seq].append(future)
        return future

    async def outcome(
        self, message_seq: int, future: asyncio.Future[str], wait: float
    ) -> str | None:
        """Wait up to ``wait`` seconds for the outcome; ``None`` if still queued by then."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait)
        except TimeoutError:
            return None
        finally:
            waiters = self._outcomes.get(message_seq)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._outcomes[message_seq]

    def _resolve(self, message_seq: int, status: str) -> None:
        for future in self._outcomes.pop(message_seq, []):
            if not future.done():
                future.set_result(status)

    # -- the worker ---------------------------------------------------------

    async def _run(self, session_id: uuid.UUID) -> None:
        wakeup = self._wakeups[session_id]
        while not self._closing:
            wakeup.clear()
            try:
                wait_for = await self._step(session_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("send queue of session %s stumbled", session_id)
                wait_for = 1.0
            if wait_for is None:
                continue
            if wait_for == float("inf"):
                await wakeup.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), wait_for)

    async def _step(self, session_id: uuid.UUID) -> float | None:
        """Send what is due at the head of the queue. Returns how long to wait
        before the next step (``inf``: until woken), or ``None`` to go on at once.

        Without pacing or typing, up to ``BATCH`` messages go per step: they are
        marked ``sending`` in one unit of work and recorded ``sent`` in another,
        each committed with whatever else the database writer batches with it
        (other sessions' marks, engine events), which keeps the database work
        per message small when many sessions send a lot."""
        taken = await self.database.writer.run(lambda db: self._take(db, session_id))
        if not isinstance(taken, _Taken):
            return taken
        # The ``sending`` marks are committed before the engine is called.
        items = [(m.seq, await self._outgoing(m), m.typing_delay_ms) for m in taken.messages]
        engine = self.manager.engine(taken.engine_name)
        acked: list[tuple[int, datetime]] = []
        failure: tuple[int, EngineError] | None = None
        for seq, outgoing, typing_ms in items:
            if typing_ms:
                await self._show_typing(engine, session_id, outgoing.to, typing_ms)
            started = time.perf_counter()
            try:
                receipt = await engine.send(str(session_id), outgoing)
            except EngineError as exc:
                failure = (seq, exc)
                break
            finally:
                self.metrics.observe_send(time.perf_counter() - started)
            self._last_sent[session_id] = time.monotonic()
            acked.append((seq, receipt.timestamp))
        if acked:
            await self.database.writer.run(lambda db: self._record_sent(db, acked))
            self._resolve_all([seq for seq, _ in acked], MessageStatus.SENT)
            for _, outgoing, _ in items[: len(acked)]:
                self.metrics.message_sent(outgoing.kind)
        if failure is not None:
            untried = [seq for seq, _, _ in items[len(acked) + 1 :]]
            return await self._failed_attempt(session_id, failure[0], failure[1], untried)
        return None

    async def _take(self, db: AsyncSession, session_id: uuid.UUID) -> _Taken | float | None:
        """The unit of work that marks the next batch ``sending`` (or says how long
        to wait, or fails the queue of a session that cannot send any more)."""
        session = await SessionRepository(db).get_by_id(session_id)
        if session is None:
            return float("inf")
        pending = await MessageRepository(db).next_pending(session_id, BATCH)
        if not pending:
            return float("inf")
        if session.session_state in (SessionState.LOGGED_OUT, SessionState.FAILED):
            reason = f"session {session.state}"
            for message in pending:
                await service.advance(db, message, MessageStatus.FAILED, reason=reason)
            failed = [m.seq for m in pending]
            after_commit(db, lambda: self._resolve_all(failed, MessageStatus.FAILED))
            kinds = [m.type for m in pending]
            after_commit(db, lambda: self._count_failed(kinds))
            return None
        if session.session_state is not SessionState.CONNECTED:
            return float("inf")  # the connected hook wakes us
        now = utcnow()
        head = pending[0]
        if head.next_attempt_at is not None and head.next_attempt_at > now:
            return (head.next_attempt_at - now).total_seconds()
        pause = self._pacing_pause(session)
        if pause > 0:
            return pause
        batch = self._batch(session, pending, now)
        for message in batch:
            message.status = MessageStatus.SENDING
            message.attempts += 1
        await db.flush()
        return _Taken(session.engine, batch)

    async def _record_sent(self, db: AsyncSession, acked: list[tuple[int, datetime]]) -> None:
        for seq, timestamp in acked:
            sent = await db.get(Message, seq)
            if sent is not None:
                await service.advance(db, sent, MessageStatus.SENT, at=timestamp)
                sent.next_attempt_at = None
                sent.error = None

    def _batch(
        self, session: WhatsAppSession, pending: list[Message], now: datetime
    ) -> list[Message]:
        paced = bool(
            session.send_rate_per_minute
            if session.send_rate_per_minute is not None
            else self.settings.send_rate_per_minute
        )
        if paced or pending[0].typing_delay_ms:
            return pending[:1]
        batch: list[Message] = []
        for message in pending:
            due = message.next_attempt_at is None or message.next_attempt_at <= now
            if message.typing_delay_ms or not due:
                break
            batch.append(message)
        return batch

    async def _show_typing(self, engine: Engine, session_id: uuid.UUID, chat: str, ms: int) -> None:
        try:
            await engine.send_presence(str(session_id), chat, "typing")
            await asyncio.sleep(ms / 1000)
            await engine.send_presence(str(session_id), chat, "paused")
        except EngineError:
            pass  # typing is a courtesy; the message still goes

    def _resolve_all(self, seqs: list[int], status: str) -> None:
        for seq in seqs:
            self._resolve(seq, status)

    async def _failed_attempt(
        self,
        session_id: uuid.UUID,
        message_seq: int,
        error: EngineError,
        untried: list[int],
    ) -> float | None:
        async def unit(db: AsyncSession) -> tuple[float | None, str | None]:
            for seq in untried:
                # Marked with the failed one but never handed to the engine.
                waiting = await db.get(Message, seq)
                if waiting is not None and waiting.status == MessageStatus.SENDING:
                    waiting.status = MessageStatus.QUEUED
                    waiting.attempts -= 1
            message = await db.get(Message, message_seq)
            if message is None:
                return None, None
            if error.temporary and message.attempts < MAX_ATTEMPTS:
                if isinstance(error, RateLimitedError) and error.retry_after:
                    delay = error.retry_after
                else:
                    delay = reconnect_delay(
                        message.attempts,
                        base=self.settings.reconnect_base_seconds,
                        cap=self.settings.reconnect_max_seconds,
                    )
                retry_at = utcnow() + timedelta(seconds=delay)
                await service.requeue(db, message, retry_at=retry_at, reason=error.message)
                logger.info(
                    "message %s: %s; retry %d in %.1fs",
                    message.message_id,
                    error.message,
                    message.attempts,
                    delay,
                )
                # Not connected: wait to be woken by the connection; otherwise wait the delay.
                return (float("inf") if isinstance(error, NotConnectedError) else delay), None
            await service.advance(db, message, MessageStatus.FAILED, reason=error.message)
            return None, message.type

        wait, failed_kind = await self.database.writer.run(unit)
        if failed_kind is not None:
            self._resolve(message_seq, MessageStatus.FAILED)
            self._count_failed([failed_kind])
        return wait

    def _count_failed(self, kinds: list[str]) -> None:
        for kind in kinds:
            self.metrics.message_failed(kind)

    def _pacing_pause(self, session: WhatsAppSession) -> float:
        rate = session.send_rate_per_minute
        if rate is None:
            rate = self.settings.send_rate_per_minute
        last = self._last_sent.get(session.id)
        if not rate or last is None:
            return 0.0
        return max(0.0, last + 60.0 / rate - time.monotonic())

    async def _outgoing(self, message: Message) -> OutgoingMessage:
        media = None
        if message.media_sha256:
            media = MediaContent(
                data=await self.media.read(message.media_sha256),
                mimetype=message.media_mimetype or "application/octet-stream",
                filename=message.media_filename,
            )
        content = message.content or {}
        location = contact = reaction = None
        if message.type == "location":
            location = Location(
                latitude=float(content["latitude"]),
                longitude=float(content["longitude"]),
                name=content.get("name"),
                address=content.get("address"),
            )
        elif message.type == "contact":
            contact = ContactCard(display_name=content["displayName"], vcard=content["vcard"])
        elif message.type == "reaction":
            reaction = Reaction(target_message_id=content["messageId"], emoji=content["emoji"])
        text = message.text if message.type == "text" else message.caption
        return OutgoingMessage(
            message_id=message.message_id,
            to=message.to_jid or message.chat,
            kind=message.type,  # type: ignore[arg-type]
            text=text,
            media=media,
            voice_note=message.voice_note,
            location=location,
            contact=contact,
            reaction=reaction,
            quoted_message_id=message.quoted_message_id,
        )
