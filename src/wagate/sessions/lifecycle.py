"""What a person asks of a session, for every face: create, connect, disconnect,
restart, log out, delete, link again, and find it by id or by number.

Each function takes the request's unit of work and plain values, never commits,
and registers its engine calls to run after the commit (``storage.db.after_commit``),
so the engine never acts on a change that was rolled back. The manager is passed
in as the app's wiring; its settings come with it. Events are recorded in the
same unit of work, and its commit wakes the outbox's readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.engines.base import DisconnectReason
from wagate.errors import AppError, ErrorCode, not_found
from wagate.events.service import outbox_signal
from wagate.fields import phone_field
from wagate.jid import InvalidJidError, normalize_number
from wagate.sessions import service
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.db import Database, after_commit

# A session id, or (for faces that address sessions by number) a phone number.
SessionRef = uuid.UUID | str
# connect, disconnect, restart, logout: what a person asks of one of their sessions.
SessionAction = Callable[
    [AsyncSession, SessionManager, User, SessionRef], Awaitable[WhatsAppSession]
]

# How often wait_for_qr looks again without a wake-up (another process may
# have stored the QR, and its commit does not wake this one).
_QR_POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class LinkView:
    """A session as its link page shows it: the current QR code, if any, and
    whether a new link attempt was just begun."""

    session: WhatsAppSession
    code: str | None
    started: bool


@dataclass(frozen=True, slots=True)
class PairingCode:
    session: WhatsAppSession
    code: str
    phone_number: str  # normalized: digits only


async def find(db: AsyncSession, user: User, ref: SessionRef) -> WhatsAppSession:
    """The caller's session by id, or by the number it linked or declared."""
    sessions = SessionRepository(db)
    if isinstance(ref, uuid.UUID):
        session = await sessions.get_for(user.id, ref)
    else:
        with contextlib.suppress(ValueError):
            return await find(db, user, uuid.UUID(ref))
        try:
            number = normalize_number(ref)
        except InvalidJidError:
            raise not_found("Session") from None
        session = await sessions.get_by_phone(user.id, number)
    if session is None:
        raise not_found("Session")
    return session


async def create(
    db: AsyncSession,
    manager: SessionManager,
    user: User,
    *,
    name: str,
    engine: str | None = None,
    connect: bool = True,
    declared_phone: str | None = None,
    ip_address: str | None = None,
) -> service.CreatedSession:
    """Create a session under the user's plan limit; with ``connect`` it begins
    linking once committed, else it waits idle (``pending``) for :func:`connect`."""
    settings = manager.settings
    engine = engine or settings.default_engine
    if engine not in settings.engines:
        raise AppError(
            ErrorCode.VALIDATION_ERROR,
            f"engine: must be one of the enabled engines ({', '.join(settings.engines)})",
        )
    created = await service.create_session(
        db,
        user,
        name=name,
        engine=engine,
        free_plan_sessions=settings.free_plan_sessions,
        declared_phone=phone_field(declared_phone) if declared_phone else None,
        ip_address=ip_address,
    )
    if connect:
        _connect_after_commit(db, manager, created.session)
    return created


async def connect(
    db: AsyncSession, manager: SessionManager, user: User, ref: SessionRef, *, start: bool = True
) -> WhatsAppSession:
    """Begin linking an unlinked session, or resume a linked one. A stopped
    session becomes ``pending`` again; a failed one cannot come back.

    ``start=False`` only makes it ``pending`` again, for a link by pairing code
    requested after the commit (the manager ignores what the engine says of a
    stopped session)."""
    session = await find(db, user, ref)
    state = session.session_state
    if state is SessionState.FAILED:
        raise AppError(ErrorCode.CONFLICT, "A failed session cannot connect; create a new one")
    if state is SessionState.STOPPED:
        await service.transition(db, session, SessionState.PENDING)
    if start and state is not SessionState.CONNECTED:
        _connect_after_commit(db, manager, session)
    return session


async def disconnect(
    db: AsyncSession, manager: SessionManager, user: User, ref: SessionRef
) -> WhatsAppSession:
    """Stop a session and keep it stopped, across restarts and the keep-alive
    sweep, until someone connects it again. Its device stays linked."""
    session = await find(db, user, ref)
    if session.session_state is SessionState.FAILED:
        return session
    return await _end(db, manager, session, SessionState.STOPPED, "Disconnected on request")


async def restart(
    db: AsyncSession, manager: SessionManager, user: User, ref: SessionRef
) -> WhatsAppSession:
    session = await find(db, user, ref)
    state = session.session_state
    if state is SessionState.FAILED:
        raise AppError(ErrorCode.CONFLICT, "A failed session cannot restart; create a new one")
    manager.engine(session.engine)  # a disabled engine answers now, not after the commit
    if state is SessionState.STOPPED:
        await service.transition(db, session, SessionState.PENDING)
    session_id, engine = session.id, session.engine
    after_commit(db, lambda: manager.restart(session_id, engine))
    return session


async def logout(
    db: AsyncSession, manager: SessionManager, user: User, ref: SessionRef
) -> WhatsAppSession:
    """Unlink the device: the state changes with this commit, the engine logs
    the device out after it."""
    session = await find(db, user, ref)
    manager.engine(session.engine)
    return await _end(db, manager, session, SessionState.LOGGED_OUT, "Logged out on request")


async def _end(
    db: AsyncSession,
    manager: SessionManager,
    session: WhatsAppSession,
    state: SessionState,
    detail: str,
) -> WhatsAppSession:
    """A person ended the connection (``stopped``) or the link (``logged_out``):
    the state changes with this commit, the engine acts after it."""
    await service.transition(
        db,
        session,
        state,
        reason=DisconnectReason.USER_REQUEST,
        detail=detail,
    )
    session_id, engine = session.id, session.engine
    end = manager.stop if state is SessionState.STOPPED else manager.logout
    after_commit(db, lambda: end(session_id, engine))
    return session


async def delete(
    db: AsyncSession,
    manager: SessionManager,
    user: User,
    ref: SessionRef,
    ip_address: str | None = None,
) -> WhatsAppSession:
    """Delete a session; once that is committed its device is logged out."""
    session = await find(db, user, ref)
    await service.delete(db, user, session.id, ip_address=ip_address)
    session_id, engine = session.id, session.engine
    after_commit(db, lambda: manager.discard(session_id, engine))
    return session


def link_attempt_over(session: WhatsAppSession) -> bool:
    """Whether the last link attempt ended (timed out, logged out), so showing
    a QR code needs a new one."""
    state = session.session_state
    return state is SessionState.LOGGED_OUT or (
        state is SessionState.DISCONNECTED and not session.linked
    )


def current_qr(session: WhatsAppSession) -> str | None:
    return session.qr_code if session.session_state is SessionState.QR else None


async def link(
    db: AsyncSession, manager: SessionManager, user: User, ref: SessionRef, *, begin: bool
) -> LinkView:
    """The session's link state; with ``begin``, a new link attempt starts when
    the last one is over."""
    session = await find(db, user, ref)
    started = begin and link_attempt_over(session)
    if started:
        _connect_after_commit(db, manager, session)
    return LinkView(session=session, code=current_qr(session), started=started)


async def request_pairing_code(
    db: AsyncSession, manager: SessionManager, user: User, ref: SessionRef, phone_number: str
) -> PairingCode:
    """A code to enter on the phone of ``phone_number`` to link the session."""
    session = await find(db, user, ref)
    phone = phone_field(phone_number, "phoneNumber")
    code = await manager.request_pairing_code(session, phone)
    return PairingCode(session=session, code=code, phone_number=phone)


async def wait_for_qr(
    database: Database, session_id: uuid.UUID, seconds: float
) -> WhatsAppSession | None:
    """After a commit that began linking: the session once it shows its first QR
    code, or is connected or failed, or as it is when ``seconds`` ran
    out (``None`` when it is gone). Reads in transactions of its own."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    signal = outbox_signal(database)  # every state change writes an outbox event
    waiter = signal.subscribe()
    try:
        while True:
            waiter.clear()
            async with database.transaction() as db:
                session = await SessionRepository(db).get_by_id(session_id)
            if session is None or current_qr(session) is not None:
                return session
            if session.session_state in (SessionState.CONNECTED, SessionState.FAILED):
                return session
            remaining = deadline - loop.time()
            if remaining <= 0:
                return session
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), min(remaining, _QR_POLL_SECONDS))
    finally:
        signal.unsubscribe(waiter)


def _connect_after_commit(
    db: AsyncSession, manager: SessionManager, session: WhatsAppSession
) -> None:
    manager.engine(session.engine)
    session_id, engine = session.id, session.engine
    after_commit(db, lambda: manager.connect_soon(session_id, engine))
