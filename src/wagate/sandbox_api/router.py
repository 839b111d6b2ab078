"""``/sandbox/v1``: play the phones, groups and faults of the sandbox network.

A thin face over ``sandbox_api.service``. JWT only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from wagate.deps import CurrentUser, DbSession, Manager
from wagate.engines.sandbox.ports import SandboxControl
from wagate.errors import AppError, ErrorCode
from wagate.sandbox_api import service
from wagate.sandbox_api.schemas import (
    CreateGroupRequest,
    CreatePhoneRequest,
    FaultRequest,
    GroupList,
    LinkRequest,
    MessageList,
    PairRequest,
    ParticipantsRequest,
    PhoneList,
    ReadRequest,
    SessionList,
    UnlinkRequest,
    UpdatePhoneRequest,
)
from wagate.schemas import Envelope, ok

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])


async def get_control(manager: Manager) -> SandboxControl:
    return service.control_of(manager)


Control = Annotated[SandboxControl, Depends(get_control)]


@router.post("/phones", status_code=201)
async def create_phone(
    body: CreatePhoneRequest, response: Response, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    phone, created = await service.create_phone(
        db,
        control,
        user,
        body.phone,
        body.name,
        online=body.online,
        auto_read=body.autoRead,
        auto_reply=body.autoReply,
        business_name=body.businessName,
    )
    if not created:
        response.status_code = 200
    return ok(phone)


@router.get("/phones")
async def list_phones(db: DbSession, user: CurrentUser, control: Control) -> Envelope[PhoneList]:
    return ok(PhoneList(phones=await service.list_phones(db, control, user)))


@router.get("/phones/{phone}")
async def get_phone(
    phone: str, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    return ok(await service.get_phone(db, control, user, phone))


@router.patch("/phones/{phone}")
async def update_phone(
    phone: str, body: UpdatePhoneRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    changes = body.model_dump(include=body.model_fields_set)
    return ok(await service.update_phone(db, control, user, phone, changes))


@router.delete("/phones/{phone}")
async def delete_phone(
    phone: str, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    number = await service.delete_phone(db, control, user, phone)
    return ok({"phone": number, "deleted": True})


@router.post("/phones/{phone}/link")
async def link_by_qr(
    phone: str, body: LinkRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    return ok(await service.link_by_qr(db, control, user, phone, body.qr))


@router.post("/phones/{phone}/pair")
async def pair_by_code(
    phone: str, body: PairRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    return ok(await service.pair_by_code(db, control, user, phone, body.code))


@router.post("/phones/{phone}/unlink")
async def unlink(
    phone: str, body: UnlinkRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    return ok(await service.unlink(db, control, user, phone, body.sessionId))


@router.post("/phones/{phone}/messages", status_code=201)
async def phone_sends(
    phone: str, request: Request, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    try:
        payload = await request.json()
    except ValueError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, "Request body is not valid JSON") from exc
    return ok(await service.send_from_phone(db, control, user, phone, payload))


@router.get("/phones/{phone}/messages")
async def phone_messages(
    phone: str,
    db: DbSession,
    user: CurrentUser,
    control: Control,
    chat: str | None = None,
    limit: int = 50,
) -> Envelope[MessageList]:
    messages = await service.phone_messages(db, control, user, phone, chat, limit)
    return ok(MessageList(messages=messages))


@router.post("/phones/{phone}/read")
async def phone_reads(
    phone: str, body: ReadRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    return ok(await service.read_on_phone(db, control, user, phone, body.messageIds))


@router.get("/media/{sha256}")
async def media(sha256: str, db: DbSession, user: CurrentUser, control: Control) -> Response:
    data = await service.media(db, control, user, sha256)
    return Response(data, media_type="application/octet-stream")


@router.post("/groups", status_code=201)
async def create_group(
    body: CreateGroupRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    return ok(
        await service.create_group(db, control, user, body.name, body.owner, body.participants)
    )


@router.get("/groups")
async def list_groups(db: DbSession, user: CurrentUser, control: Control) -> Envelope[GroupList]:
    return ok(GroupList(groups=await service.list_groups(db, control, user)))


@router.patch("/groups/{jid}/participants")
async def change_participants(
    jid: str, body: ParticipantsRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    return ok(await service.change_participants(db, control, user, jid, body.add, body.remove))


@router.get("/sessions")
async def linkable_sessions(
    db: DbSession, user: CurrentUser, control: Control
) -> Envelope[SessionList]:
    """The network's view of the caller's sessions: which show a QR to scan."""
    return ok(SessionList(sessions=await service.linkable_sessions(db, control, user)))


@router.post("/faults")
async def fault(
    body: FaultRequest, db: DbSession, user: CurrentUser, control: Control
) -> Envelope[dict[str, Any]]:
    await service.apply_fault(db, control, user, body)
    return ok({"kind": body.kind, "applied": True})


@router.get("/status")
async def status(db: DbSession, user: CurrentUser, control: Control) -> Envelope[dict[str, Any]]:
    return ok(await service.status(db, control, user))
