"""The sandbox's rules for people: a user acts only as the phones they created
and faults only their own sessions; faults of the whole network are for
administrators. Works on :class:`SandboxControl`, local or remote alike.

Takes a DB session and plain values; never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.engines.sandbox.control import MAX_LIST_LIMIT
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.ports import SandboxControl
from wagate.errors import AppError, ErrorCode
from wagate.fields import phone_field
from wagate.sandbox_api import repository as owners
from wagate.sandbox_api.schemas import FaultRequest
from wagate.sessions import lifecycle
from wagate.sessions import service as sessions_service
from wagate.sessions.manager import SessionManager

T = TypeVar("T")

_NETWORK_WIDE = ("network_down", "network_up", "latency")


def control_of(manager: SessionManager) -> SandboxControl:
    """The sandbox network's control face, local or remote."""
    engine = manager.engines.get("sandbox")
    control: SandboxControl | None = getattr(engine, "control", None)
    if control is None:
        raise AppError(ErrorCode.SERVICE_UNAVAILABLE, "The sandbox engine is not enabled")
    return control


async def run(awaitable: Awaitable[T]) -> T:
    """Control errors become the app's errors."""
    try:
        return await awaitable
    except SandboxError as exc:
        code = (
            ErrorCode(exc.code) if exc.code in ErrorCode.__members__ else ErrorCode.VALIDATION_ERROR
        )
        raise AppError(code, exc.message, status=exc.status) from exc


async def own_phone(db: AsyncSession, user: User, raw: str) -> str:
    """The caller's phone by its number; anyone else's is not found."""
    phone = phone_field(raw)
    if await owners.owner_of(db, phone) != user.id:
        raise AppError(ErrorCode.NOT_FOUND, f"No sandbox phone {phone} of yours")
    return phone


async def create_phone(
    db: AsyncSession,
    control: SandboxControl,
    user: User,
    raw: str,
    name: str | None,
    *,
    online: bool,
    auto_read: bool,
    auto_reply: str | None,
    business_name: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create (or, for its owner, update) a phone. Returns it and whether it is new."""
    phone = phone_field(raw)
    # Claimed before the phone is made, in one statement, so of concurrent
    # creates only one user ever gets the number.
    if await owners.claim(db, phone, user.id) != user.id:
        raise AppError(ErrorCode.CONFLICT, f"The number {phone} is another user's sandbox phone")
    created = await run(
        control.create_phone(
            phone,
            name,
            online=online,
            auto_read=auto_read,
            auto_reply=auto_reply,
            business_name=business_name,
        )
    )
    return created


async def list_phones(
    db: AsyncSession, control: SandboxControl, user: User
) -> list[dict[str, Any]]:
    mine = await owners.numbers_of(db, user.id)
    return [p for p in await run(control.list_phones()) if p.get("number") in mine]


async def get_phone(
    db: AsyncSession, control: SandboxControl, user: User, raw: str
) -> dict[str, Any]:
    return await run(control.get_phone(await own_phone(db, user, raw)))


async def update_phone(
    db: AsyncSession, control: SandboxControl, user: User, raw: str, changes: dict[str, Any]
) -> dict[str, Any]:
    return await run(control.update_phone(await own_phone(db, user, raw), changes))


async def delete_phone(db: AsyncSession, control: SandboxControl, user: User, raw: str) -> str:
    phone = await own_phone(db, user, raw)
    await run(control.delete_phone(phone))
    await owners.release(db, phone)
    return phone


async def link_by_qr(
    db: AsyncSession, control: SandboxControl, user: User, raw: str, qr: str
) -> dict[str, Any]:
    return await run(control.link_by_qr(await own_phone(db, user, raw), qr))


async def pair_by_code(
    db: AsyncSession, control: SandboxControl, user: User, raw: str, code: str
) -> dict[str, Any]:
    phone = await own_phone(db, user, raw)
    return await run(control.pair_by_code(phone, code.replace("-", "").upper()))


async def unlink(
    db: AsyncSession, control: SandboxControl, user: User, raw: str, session_id: str | None
) -> dict[str, Any]:
    """Remove the phone's linked devices (one, or all): those sessions are logged out."""
    phone = await own_phone(db, user, raw)
    return {"phone": phone, "unlinkedSessions": await run(control.unlink(phone, session_id))}


async def send_from_phone(
    db: AsyncSession, control: SandboxControl, user: User, raw: str, payload: object
) -> dict[str, Any]:
    phone = await own_phone(db, user, raw)
    if not isinstance(payload, dict):
        raise AppError(ErrorCode.VALIDATION_ERROR, "body: must be a JSON object")
    return await run(control.send_message(phone, payload))


async def phone_messages(
    db: AsyncSession, control: SandboxControl, user: User, raw: str, chat: str | None, limit: int
) -> list[dict[str, Any]]:
    phone = await own_phone(db, user, raw)
    return await run(control.list_messages(phone, chat=chat, limit=limit))


async def read_on_phone(
    db: AsyncSession, control: SandboxControl, user: User, raw: str, message_ids: list[str]
) -> dict[str, Any]:
    """The phone reads these messages: read receipts go back to their senders."""
    phone = await own_phone(db, user, raw)
    return {"phone": phone, "read": await run(control.read_messages(phone, message_ids))}


async def media(db: AsyncSession, control: SandboxControl, user: User, sha256: str) -> bytes:
    """Media a message of one of the user's phones carries; any other is not found
    (a hash seen elsewhere, in a log or a webhook, is no key to another's media)."""
    wanted = sha256.lower()
    for phone in await owners.numbers_of(db, user.id):
        messages = await run(control.list_messages(phone, limit=MAX_LIST_LIMIT))
        if any(m.get("sha256") == wanted for m in messages):
            return await run(control.get_media(wanted))
    raise AppError(ErrorCode.NOT_FOUND, "No such media on your sandbox phones")


async def create_group(
    db: AsyncSession,
    control: SandboxControl,
    user: User,
    name: str,
    owner: str,
    participants: list[str],
) -> dict[str, Any]:
    owner_phone = await own_phone(db, user, owner)
    members = [phone_field(p) for p in participants]
    return await run(control.create_group(name, owner_phone, members))


def _members(group: dict[str, Any]) -> set[str]:
    members: set[str] = set()
    for participant in group.get("participants", []):
        value = participant.get("number") if isinstance(participant, dict) else participant
        if value:
            members.add(str(value).split("@", 1)[0])
    owner = group.get("owner")
    if owner:
        members.add(str(owner).split("@", 1)[0])
    return members


async def list_groups(
    db: AsyncSession, control: SandboxControl, user: User
) -> list[dict[str, Any]]:
    """The groups one of the caller's phones is in."""
    mine = await owners.numbers_of(db, user.id)
    return [g for g in await run(control.list_groups()) if mine & _members(g)]


async def change_participants(
    db: AsyncSession,
    control: SandboxControl,
    user: User,
    jid: str,
    add: list[str],
    remove: list[str],
) -> dict[str, Any]:
    visible = await list_groups(db, control, user)
    if not any(g.get("jid") == jid for g in visible):
        raise AppError(ErrorCode.NOT_FOUND, "Group not found")
    return await run(
        control.update_group_participants(
            jid, add=[phone_field(p) for p in add], remove=[phone_field(p) for p in remove]
        )
    )


async def linkable_sessions(
    db: AsyncSession, control: SandboxControl, user: User
) -> list[dict[str, Any]]:
    """The network's view of the caller's sessions: which show a QR to scan."""
    mine = {str(s.id) for s in await sessions_service.list_owned(db, user)}
    return [s for s in await run(control.list_sessions()) if s.get("sessionId") in mine]


async def apply_fault(
    db: AsyncSession, control: SandboxControl, user: User, fault: FaultRequest
) -> None:
    kind = fault.kind
    network_wide = kind in _NETWORK_WIDE or (kind == "ban" and fault.sessionId is None)
    if network_wide and not user.is_admin:
        raise AppError(ErrorCode.FORBIDDEN, f"The {kind} fault is for administrators")
    if kind == "network_down":
        await run(control.network_down())
    elif kind == "network_up":
        await run(control.network_up())
    elif kind == "latency":
        await run(control.set_latency(fault.ms or 0))
    elif kind == "ban" and fault.sessionId is None:
        if not fault.phone:
            raise AppError(ErrorCode.VALIDATION_ERROR, "phone or sessionId is required")
        await run(control.ban(phone=phone_field(fault.phone)))
    else:
        if not fault.sessionId:
            raise AppError(ErrorCode.VALIDATION_ERROR, f"sessionId is required for {kind}")
        session_id = str(await _own_session(db, user, fault.sessionId))
        if kind == "disconnect":
            await run(control.disconnect(session_id))
        elif kind == "ban":
            await run(control.ban(session_id=session_id))
        else:
            await run(control.rate_limit(session_id, fault.count, fault.retryAfter))


async def _own_session(db: AsyncSession, user: User, raw: str) -> uuid.UUID:
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        raise AppError(ErrorCode.NOT_FOUND, "Session not found") from None
    return (await lifecycle.find(db, user, parsed)).id


async def status(db: AsyncSession, control: SandboxControl, user: User) -> dict[str, Any]:
    """The whole network's counts for administrators; a user's own for anyone else."""
    network = await run(control.status())
    if user.is_admin:
        return network
    phones = await owners.numbers_of(db, user.id)
    sessions = {str(s.id) for s in await sessions_service.list_owned(db, user)}
    linked = [s for s in await run(control.list_sessions()) if s["sessionId"] in sessions]
    return {
        "networkUp": network["networkUp"],
        "latencyMs": network["latencyMs"],
        "phones": len(phones),
        "linkedSessions": sum(1 for s in linked if s["phone"]),
        "connectedSessions": sum(1 for s in linked if s["state"] == "connected"),
        "rateLimited": {k: v for k, v in network["rateLimited"].items() if k in sessions},
    }
