"""The multi-session API (``../shared/seeds/multi-session-api-guide.md``) under
``/api``: every route validates, makes its service call and shapes the answer
as the guide shows. ``{session_id}`` is a session id or the session's phone
number, within the caller's sessions (``deps.FaceSession``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from wagate.auth import service as auth_service
from wagate.deps import (
    Authenticated,
    ClientAddress,
    DbSession,
    FaceSession,
    Manager,
    Queue,
    SettingsDep,
    face_session,
)
from wagate.errors import AppError, ErrorCode
from wagate.faces.multisession.face import PREFIX
from wagate.faces.multisession.schemas import (
    CheckNumberRequest,
    CreateSessionRequest,
    Done,
    GroupList,
    LoginRequest,
    LoginResponse,
    LoginUser,
    MultiGroup,
    MultiSession,
    NumberChecked,
    RenameRequest,
    SendByPhoneRequest,
    SendRequest,
    SessionDone,
    WebhookDone,
    WebhookRequest,
)
from wagate.jid import InvalidJidError, normalize_number, to_jid
from wagate.messages import directory, sending
from wagate.messages.service import OutgoingSpec
from wagate.net.policy import url_reach
from wagate.responses import DeferredJSONResponse
from wagate.sessions import lifecycle
from wagate.sessions import service as sessions_service
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.webhooks import service as webhooks_service
from wagate.webhooks.formats import WebhookFormat

router = APIRouter(prefix=PREFIX, tags=["multi-session"])


@router.post("/login")
async def login(
    body: LoginRequest, db: DbSession, settings: SettingsDep, ip: ClientAddress
) -> LoginResponse:
    user = await auth_service.authenticate(
        db, login=body.username, password=body.password, ip_address=ip
    )
    token = auth_service.issue_token(
        user, secret=settings.resolved_secret_key, expires_minutes=settings.jwt_expires_minutes
    )
    return LoginResponse(
        token=token, user=LoginUser(id=str(user.id), username=user.username or user.email)
    )


@router.get("/sessions")
async def list_sessions(db: DbSession, principal: Authenticated) -> list[MultiSession]:
    """A bare array, as the guide's monitoring code reads it."""
    if principal.session is not None:  # a session key sees its own session only
        return [MultiSession.of(principal.session)]
    return [MultiSession.of(s) for s in await sessions_service.list_owned(db, principal.user)]


@router.post("/sessions", status_code=201)
async def create_session(
    body: CreateSessionRequest,
    db: DbSession,
    principal: Authenticated,
    manager: Manager,
    settings: SettingsDep,
    ip: ClientAddress,
) -> MultiSession:
    """The session object itself (the guide's client stores ``session.id``). It
    waits idle until ``connect``, as the guide's flow has it."""
    created = await lifecycle.create(
        db,
        manager,
        principal.user,
        name=body.name,
        connect=False,
        declared_phone=body.phone,
        ip_address=ip,
    )
    if body.webhook_url:
        await webhooks_service.set_session_webhook(
            db,
            principal.user,
            created.session.id,
            body.webhook_url,
            format=WebhookFormat.MULTISESSION,
            instance_secret=settings.resolved_secret_key,
            reach=url_reach(settings, is_admin=principal.user.is_admin),
            ip_address=ip,
        )
    return MultiSession.of(created.session)


@router.get("/sessions/{session_id}")
async def get_session(session: FaceSession) -> MultiSession:
    return MultiSession.of(session)


@router.delete("/sessions/{session_id}")
async def delete_session(
    session: FaceSession,
    db: DbSession,
    principal: Authenticated,
    manager: Manager,
    ip: ClientAddress,
) -> Done:
    await lifecycle.delete(db, manager, principal.user, session.id, ip_address=ip)
    return Done(message="Session deleted")


@router.put("/sessions/{session_id}/name")
async def rename_session(
    body: RenameRequest, session: FaceSession, db: DbSession, principal: Authenticated
) -> SessionDone:
    renamed = await sessions_service.update(
        db,
        principal.user,
        session.id,
        name=body.name,
        send_rate_per_minute=None,
        typing_delay_ms=None,
        fields_set={"name"},
    )
    return SessionDone(message="Session name updated", session=MultiSession.of(renamed))


@router.put("/sessions/{session_id}/webhook")
async def set_webhook(
    body: WebhookRequest,
    session: FaceSession,
    db: DbSession,
    principal: Authenticated,
    settings: SettingsDep,
    ip: ClientAddress,
) -> WebhookDone:
    webhook = await webhooks_service.set_session_webhook(
        db,
        principal.user,
        session.id,
        body.webhook_url,
        format=WebhookFormat.MULTISESSION,
        instance_secret=settings.resolved_secret_key,
        reach=url_reach(settings, is_admin=principal.user.is_admin),
        ip_address=ip,
    )
    url = webhook.url if webhook else None
    return WebhookDone(message="Webhook updated" if url else "Webhook removed", webhook_url=url)


@router.post("/sessions/{session_id}/connect")
async def connect_session(
    session: FaceSession, db: DbSession, principal: Authenticated, manager: Manager
) -> SessionDone:
    """Begin linking (the QR codes come over ``/api/ws/{id}``), or resume a
    linked session."""
    connecting = await lifecycle.connect(db, manager, principal.user, session.id)
    if connecting.session_state is SessionState.CONNECTED:
        message = "Session is already connected"
    elif connecting.linked:
        message = "Session is reconnecting"
    else:
        message = "Scan the QR code to connect (see /api/ws/{id})"
    return SessionDone(message=message, session=MultiSession.of(connecting))


@router.post("/sessions/{session_id}/disconnect")
async def disconnect_session(
    session: FaceSession, db: DbSession, principal: Authenticated, manager: Manager
) -> SessionDone:
    stopped = await lifecycle.disconnect(db, manager, principal.user, session.id)
    return SessionDone(message="Session disconnected", session=MultiSession.of(stopped))


def _text_to(body: SendRequest) -> OutgoingSpec:
    try:
        recipient = to_jid(body.recipient)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"recipient: {exc}") from exc
    return OutgoingSpec(kind="text", to=recipient, text=body.message)


def _sent(submitted: sending.Submitted) -> DeferredJSONResponse:
    """Answered after the commit, once the engine acked (or the wait ran out)."""

    async def body() -> dict[str, Any]:
        status = await submitted.status()
        message = "Message sent successfully" if status != "queued" else "Message queued"
        return {
            "success": True,
            "message": message,
            "message_id": submitted.message_id,
            "status": status,
        }

    return DeferredJSONResponse(body)


async def _send(
    db: DbSession, manager: Manager, queue: Queue, session: WhatsAppSession, body: SendRequest
) -> DeferredJSONResponse:
    # The guide refuses a send from a session that is not logged in (its 404),
    # where the native face would queue it.
    submitted = await sending.submit(
        db, manager, queue, session, _text_to(body), require_connected=True
    )
    return _sent(submitted)


@router.post("/sessions/{session_id}/send", response_model=None)
async def send_from_session(
    body: SendRequest, session: FaceSession, db: DbSession, manager: Manager, queue: Queue
) -> DeferredJSONResponse:
    """``recipient``: a number or a group JID."""
    return await _send(db, manager, queue, session, body)


@router.post("/send", response_model=None)
async def send_from_phone(
    request: Request,
    body: SendByPhoneRequest,
    db: DbSession,
    principal: Authenticated,
    manager: Manager,
    queue: Queue,
) -> DeferredJSONResponse:
    """The session is the caller's one with the number ``phone``."""
    session = await face_session(request, db, principal, body.phone)
    return await _send(db, manager, queue, session, body)


@router.post("/sessions/{session_id}/check-number")
async def check_number(
    body: CheckNumberRequest, session: FaceSession, manager: Manager
) -> NumberChecked:
    try:
        number = normalize_number(body.number)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"number: {exc}") from exc
    [check] = await directory.check_numbers(manager, session, [number])
    verified_name = check.verified_name
    return NumberChecked(
        number=number,
        on_whatsapp=check.on_whatsapp,
        verified=verified_name is not None,
        verified_name=verified_name,
    )


@router.get("/sessions/{session_id}/groups")
async def list_groups(session: FaceSession, manager: Manager) -> GroupList:
    groups = await directory.groups(manager, session)
    return GroupList(count=len(groups), groups=[MultiGroup.of(g, session.jid) for g in groups])
