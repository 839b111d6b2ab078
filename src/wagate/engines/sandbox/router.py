"""``/sandbox/v1``: play the phones, groups and faults of the sandbox network.

A thin face over :class:`SandboxControl` (local or remote alike). JWT only.
A user acts only as the phones they created and faults only their own
sessions; faults of the whole network are for administrators.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from wagate.auth.models import User
from wagate.deps import CurrentUser, DbSession, Manager, parse_id
from wagate.engines.sandbox import owners
from wagate.engines.sandbox.control import MAX_LIST_LIMIT
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.ports import SandboxControl
from wagate.errors import AppError, ErrorCode
from wagate.jid import InvalidJidError, normalize_number
from wagate.schemas import Envelope, RequestModel, ok
from wagate.sessions import service as sessions_service
from wagate.sessions.repository import SessionRepository

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])


class CreatePhoneRequest(RequestModel):
    phone: str = Field(min_length=6, max_length=32)
    name: str | None = Field(default=None, max_length=100)
    online: bool = True
    autoRead: bool = False
    autoReply: Literal["echo"] | None = None


class UpdatePhoneRequest(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    online: bool | None = None
    autoRead: bool | None = None
    autoReply: Literal["echo"] | None = None


class LinkRequest(RequestModel):
    qr: str = Field(min_length=1, max_length=2048)


class PairRequest(RequestModel):
    code: str = Field(min_length=1, max_length=16)


class UnlinkRequest(RequestModel):
    sessionId: str | None = None


class ReadRequest(RequestModel):
    messageIds: list[str] = Field(min_length=1, max_length=1000)


class CreateGroupRequest(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    owner: str = Field(min_length=6, max_length=32)
    participants: list[str] = Field(default_factory=list, max_length=1024)


class ParticipantsRequest(RequestModel):
    add: list[str] = Field(default_factory=list, max_length=1024)
    remove: list[str] = Field(default_factory=list, max_length=1024)


FaultKind = Literal["disconnect", "network_down", "network_up", "latency", "ban", "rate_limit"]


class FaultRequest(RequestModel):
    kind: FaultKind
    sessionId: str | None = None
    phone: str | None = None
    ms: float | None = Field(default=None, ge=0, le=60_000)
    count: int = Field(default=1, ge=1, le=10_000)
    retryAfter: float = Field(default=1.0, ge=0, le=3600)


class PhoneList(BaseModel):
    phones: list[dict[str, Any]]


class MessageList(BaseModel):
    messages: list[dict[str, Any]]


class GroupList(BaseModel):
    groups: list[dict[str, Any]]


class SessionList(BaseModel):
    sessions: list[dict[str, Any]]


def get_control(manager: Manager) -> SandboxControl:
    engine = manager.engines.get("sandbox")
    control: SandboxControl | None = getattr(engine, "control", None)
    if control is None:
        raise AppError(ErrorCode.SERVICE_UNAVAILABLE, "The sandbox engine is not enabled")
    return control


async def run(awaitable: Any) -> Any:
    """Control errors become the API's error envelope."""
    try:
        return await awaitable
    except SandboxError as exc:
        code = (
            ErrorCode(exc.code) if exc.code in ErrorCode.__members__ else ErrorCode.VALIDATION_ERROR
        )
        raise AppError(code, exc.message, status=exc.status) from exc


def _number(raw: str) -> str:
    try:
        return normalize_number(raw)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"phone: {exc}") from None


async def _own_phone(db: DbSession, user: User, raw: str) -> str:
    number = _number(raw)
    if await owners.owner_of(db, number) != user.id:
        raise AppError(ErrorCode.NOT_FOUND, f"No sandbox phone {number} of yours")
    return number


async def _own_session(db: DbSession, user: User, raw: str) -> uuid.UUID:
    session = await sessions_service.get_owned(db, user, parse_id(raw, "Session"))
    return session.id


@router.post("/phones", status_code=201)
async def create_phone(
    body: CreatePhoneRequest, response: Response, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = _number(body.phone)
    # Claimed before the phone is made, in one statement, so of concurrent
    # creates only one user ever gets the number.
    if await owners.claim(db, number, user.id) != user.id:
        raise AppError(ErrorCode.CONFLICT, f"The number {number} is another user's sandbox phone")
    phone, created = await run(
        get_control(manager).create_phone(
            number,
            body.name,
            online=body.online,
            auto_read=body.autoRead,
            auto_reply=body.autoReply,
        )
    )
    if not created:
        response.status_code = 200
    return ok(phone)


@router.get("/phones")
async def list_phones(db: DbSession, user: CurrentUser, manager: Manager) -> Envelope[PhoneList]:
    mine = await owners.numbers_of(db, user.id)
    phones = await run(get_control(manager).list_phones())
    return ok(PhoneList(phones=[p for p in phones if p.get("number") in mine]))


@router.get("/phones/{phone}")
async def get_phone(
    phone: str, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    return ok(await run(get_control(manager).get_phone(number)))


@router.patch("/phones/{phone}")
async def update_phone(
    phone: str, body: UpdatePhoneRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    changes = body.model_dump(include=body.model_fields_set)
    return ok(await run(get_control(manager).update_phone(number, changes)))


@router.delete("/phones/{phone}")
async def delete_phone(
    phone: str, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    await run(get_control(manager).delete_phone(number))
    await owners.release(db, number)
    return ok({"phone": number, "deleted": True})


@router.post("/phones/{phone}/link")
async def link_by_qr(
    phone: str, body: LinkRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    return ok(await run(get_control(manager).link_by_qr(number, body.qr)))


@router.post("/phones/{phone}/pair")
async def pair_by_code(
    phone: str, body: PairRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    code = body.code.replace("-", "").upper()
    return ok(await run(get_control(manager).pair_by_code(number, code)))


@router.post("/phones/{phone}/unlink")
async def unlink(
    phone: str, body: UnlinkRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    unlinked = await run(get_control(manager).unlink(number, body.sessionId))
    return ok({"phone": number, "unlinkedSessions": unlinked})


@router.post("/phones/{phone}/messages", status_code=201)
async def phone_sends(
    phone: str, request: Request, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    try:
        payload = await request.json()
    except ValueError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, "Request body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise AppError(ErrorCode.VALIDATION_ERROR, "body: must be a JSON object")
    return ok(await run(get_control(manager).send_message(number, payload)))


@router.get("/phones/{phone}/messages")
async def phone_messages(
    phone: str,
    db: DbSession,
    user: CurrentUser,
    manager: Manager,
    chat: str | None = None,
    limit: int = 50,
) -> Envelope[MessageList]:
    number = await _own_phone(db, user, phone)
    messages = await run(get_control(manager).list_messages(number, chat=chat, limit=limit))
    return ok(MessageList(messages=messages))


@router.post("/phones/{phone}/read")
async def phone_reads(
    phone: str, body: ReadRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    number = await _own_phone(db, user, phone)
    count = await run(get_control(manager).read_messages(number, body.messageIds))
    return ok({"phone": number, "read": count})


@router.get("/media/{sha256}")
async def media(sha256: str, db: DbSession, user: CurrentUser, manager: Manager) -> Response:
    """Media a message of one of the user's phones carries; any other is not found
    (a hash seen elsewhere, in a log or a webhook, is no key to another's media)."""
    control = get_control(manager)
    wanted = sha256.lower()
    for number in await owners.numbers_of(db, user.id):
        messages = await run(control.list_messages(number, limit=MAX_LIST_LIMIT))
        if any(m.get("sha256") == wanted for m in messages):
            data = await run(control.get_media(wanted))
            return Response(data, media_type="application/octet-stream")
    raise AppError(ErrorCode.NOT_FOUND, "No such media on your sandbox phones")


@router.post("/groups", status_code=201)
async def create_group(
    body: CreateGroupRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    owner = await _own_phone(db, user, body.owner)
    participants = [_number(p) for p in body.participants]
    return ok(await run(get_control(manager).create_group(body.name, owner, participants)))


@router.get("/groups")
async def list_groups(db: DbSession, user: CurrentUser, manager: Manager) -> Envelope[GroupList]:
    mine = await owners.numbers_of(db, user.id)
    groups = await run(get_control(manager).list_groups())
    visible = [g for g in groups if mine & {_number(str(p)) for p in _members(g)}]
    return ok(GroupList(groups=visible))


def _members(group: dict[str, Any]) -> list[str]:
    members: list[str] = []
    for participant in group.get("participants", []):
        value = participant.get("number") if isinstance(participant, dict) else participant
        if value:
            members.append(str(value).split("@", 1)[0])
    owner = group.get("owner")
    if owner:
        members.append(str(owner).split("@", 1)[0])
    return members


@router.patch("/groups/{jid}/participants")
async def change_participants(
    jid: str, body: ParticipantsRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    control = get_control(manager)
    groups = await run(control.list_groups())
    group = next((g for g in groups if g.get("jid") == jid), None)
    mine = await owners.numbers_of(db, user.id)
    if group is None or not mine & set(_members(group)):
        raise AppError(ErrorCode.NOT_FOUND, "Group not found")
    return ok(
        await run(
            control.update_group_participants(
                jid, add=[_number(p) for p in body.add], remove=[_number(p) for p in body.remove]
            )
        )
    )


@router.get("/sessions")
async def linkable_sessions(
    db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[SessionList]:
    """The network's view of the caller's sessions: which show a QR to scan."""
    mine = {str(s.id) for s in await SessionRepository(db).list_for(user.id)}
    sessions = await run(get_control(manager).list_sessions())
    return ok(SessionList(sessions=[s for s in sessions if s.get("sessionId") in mine]))


@router.post("/faults")
async def fault(
    body: FaultRequest, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[dict[str, Any]]:
    control = get_control(manager)
    network_wide = body.kind in ("network_down", "network_up", "latency") or (
        body.kind == "ban" and body.sessionId is None
    )
    if network_wide and not user.is_admin:
        raise AppError(ErrorCode.FORBIDDEN, f"The {body.kind} fault is for administrators")
    if body.kind == "network_down":
        await run(control.network_down())
    elif body.kind == "network_up":
        await run(control.network_up())
    elif body.kind == "latency":
        await run(control.set_latency(body.ms or 0))
    elif body.kind == "ban" and body.sessionId is None:
        if not body.phone:
            raise AppError(ErrorCode.VALIDATION_ERROR, "phone or sessionId is required")
        await run(control.ban(phone=_number(body.phone)))
    else:
        if not body.sessionId:
            raise AppError(ErrorCode.VALIDATION_ERROR, f"sessionId is required for {body.kind}")
        session_id = str(await _own_session(db, user, body.sessionId))
        if body.kind == "disconnect":
            await run(control.disconnect(session_id))
        elif body.kind == "ban":
            await run(control.ban(session_id=session_id))
        else:
            await run(control.rate_limit(session_id, body.count, body.retryAfter))
    return ok({"kind": body.kind, "applied": True})


@router.get("/status")
async def status(db: DbSession, user: CurrentUser, manager: Manager) -> Envelope[dict[str, Any]]:
    """The whole network's counts for administrators; a user's own for anyone else."""
    control = get_control(manager)
    network = await run(control.status())
    if user.is_admin:
        return ok(network)
    phones = await owners.numbers_of(db, user.id)
    sessions = {str(s.id) for s in await sessions_service.list_owned(db, user)}
    linked = [s for s in await run(control.list_sessions()) if s["sessionId"] in sessions]
    return ok(
        {
            "networkUp": network["networkUp"],
            "latencyMs": network["latencyMs"],
            "phones": len(phones),
            "linkedSessions": sum(1 for s in linked if s["phone"]),
            "connectedSessions": sum(1 for s in linked if s["state"] == "connected"),
            "rateLimited": {k: v for k, v in network["rateLimited"].items() if k in sessions},
        }
    )
