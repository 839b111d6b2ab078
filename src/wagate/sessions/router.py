from __future__ import annotations

from fastapi import APIRouter, Query, Response

from wagate.deps import ApiSession, ClientAddress, CurrentUser, DbSession, Manager, parse_id
from wagate.errors import not_found
from wagate.schemas import API_PREFIX, Envelope, MessageEnvelope, ok
from wagate.sessions import lifecycle, qr, service
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.schemas import (
    CreatedSessionData,
    CreateSessionRequest,
    PairingCodeData,
    PairingCodeRequest,
    QrData,
    QrFormat,
    RotatedKeyData,
    SessionList,
    SessionListItem,
    SessionStatus,
    UpdateSessionRequest,
)

router = APIRouter(prefix=f"{API_PREFIX}/sessions", tags=["sessions"])


def _status(session: WhatsAppSession, manager: Manager) -> SessionStatus:
    state = session.session_state
    return SessionStatus(
        sessionId=str(session.id),
        name=session.name,
        status=state.sak_status,
        connected=state is SessionState.CONNECTED,
        phoneNumber=session.phone_number,
        pushName=session.push_name,
        lastConnectedAt=session.last_connected_at,
        state=state.value,
        reason=session.reason,
        detail=session.detail,
        engine=session.engine,
        reconnecting=manager.reconnect_pending(session.id),
    )


def _list_item(session: WhatsAppSession) -> SessionListItem:
    return SessionListItem(
        session_id=str(session.id),
        name=session.name,
        status=session.session_state.sak_status,
        state=session.state,
        reason=session.reason,
        engine=session.engine,
        phone_number=session.phone_number,
        push_name=session.push_name,
        api_key_last_four=session.api_key_last_four,
        send_rate_per_minute=session.send_rate_per_minute,
        typing_delay=session.typing_delay_ms,
        last_connected_at=session.last_connected_at,
        created_at=session.created_at,
    )


@router.post("", status_code=201)
async def create_session(
    body: CreateSessionRequest,
    db: DbSession,
    user: CurrentUser,
    manager: Manager,
    ip: ClientAddress,
) -> Envelope[CreatedSessionData]:
    created = await lifecycle.create(
        db,
        manager,
        user,
        name=body.name,
        engine=body.engine,
        connect=body.connect,
        declared_phone=body.phoneNumber,
        ip_address=ip,
    )
    session = created.session
    return ok(
        CreatedSessionData(
            sessionId=str(session.id),
            apiKey=created.api_key,
            name=session.name,
            status="pending",
            state=session.state,
            engine=session.engine,
            message="Scan QR code to connect" if body.connect else "Connect it to link a phone",
        )
    )


@router.get("")
async def list_sessions(db: DbSession, user: CurrentUser) -> Envelope[SessionList]:
    sessions = await service.list_owned(db, user)
    return ok(SessionList(sessions=[_list_item(s) for s in sessions]))


@router.get("/me")
async def current_session(session: ApiSession, manager: Manager) -> Envelope[SessionStatus]:
    """The session an API key acts for (a session key, or a user key with ``x-session-id``)."""
    return ok(_status(session, manager))


@router.get("/{session_id}/status")
async def session_status(
    session_id: str, db: DbSession, user: CurrentUser, manager: Manager
) -> Envelope[SessionStatus]:
    session = await service.get_owned(db, user, parse_id(session_id, "Session"))
    return ok(_status(session, manager))


@router.get("/{session_id}/qr", response_model=None)
async def session_qr(
    session_id: str,
    db: DbSession,
    user: CurrentUser,
    manager: Manager,
    format: QrFormat = Query(default="json"),
) -> Envelope[QrData] | Response:
    # The last link attempt ended (timed out, logged out): asking for its QR begins a new one.
    view = await lifecycle.link(
        db, manager, user, parse_id(session_id, "Session"), begin=format == "json"
    )
    session, code = view.session, view.code
    state = session.session_state
    if format != "json":
        if code is None:
            raise not_found("QR code")
        if format == "png":
            return Response(qr.qr_png(code), media_type="image/png")
        return Response(qr.qr_svg(code), media_type="image/svg+xml")
    if code is not None:
        message = "Scan this QR code with WhatsApp"
    elif view.started:
        message = "A new QR code is being generated; retry in a moment"
    elif state is SessionState.CONNECTED:
        message = "Session is already connected"
    elif state is SessionState.PAIRING_CODE:
        message = "Waiting for the pairing code to be entered on the phone"
    elif state is SessionState.FAILED:
        message = f"Session failed ({session.reason}); delete it and create a new one"
    elif state is SessionState.STOPPED:
        message = "Session is disconnected; connect it to link a phone"
    else:
        message = "QR code is not ready yet; retry in a moment"
    return ok(
        QrData(
            qrCode=code,
            qrImage=qr.qr_data_url(code) if code else None,
            expiresAt=session.qr_expires_at if code else None,
            status=state.sak_status,
            state=state.value,
            message=message,
        )
    )


@router.post("/{session_id}/pairing-code")
async def pairing_code(
    session_id: str,
    body: PairingCodeRequest,
    db: DbSession,
    user: CurrentUser,
    manager: Manager,
) -> Envelope[PairingCodeData]:
    pairing = await lifecycle.request_pairing_code(
        db, manager, user, parse_id(session_id, "Session"), body.phoneNumber
    )
    return ok(
        PairingCodeData(
            code=pairing.code,
            phoneNumber=pairing.phone_number,
            message="On the phone: Linked devices → Link with phone number, then enter this code",
        )
    )


def _state_endpoint(action: str, call: lifecycle.SessionAction, summary: str) -> None:
    """``POST /{id}/connect`` and ``/disconnect``: they answer the session's status."""

    async def endpoint(
        session_id: str, db: DbSession, user: CurrentUser, manager: Manager
    ) -> Envelope[SessionStatus]:
        session = await call(db, manager, user, parse_id(session_id, "Session"))
        return ok(_status(session, manager))

    endpoint.__name__ = f"{action}_session"
    router.add_api_route(f"/{{session_id}}/{action}", endpoint, methods=["POST"], summary=summary)


_state_endpoint(
    "connect", lifecycle.connect, "Begin linking (a new or logged-out session) or resume it"
)
_state_endpoint(
    "disconnect", lifecycle.disconnect, "Stop it until it is connected again; it stays linked"
)


@router.post("/{session_id}/restart")
async def restart_session(
    session_id: str, db: DbSession, user: CurrentUser, manager: Manager
) -> MessageEnvelope:
    await lifecycle.restart(db, manager, user, parse_id(session_id, "Session"))
    return MessageEnvelope(message="Session restarting")


@router.post("/{session_id}/logout")
async def logout_session(
    session_id: str, db: DbSession, user: CurrentUser, manager: Manager
) -> MessageEnvelope:
    await lifecycle.logout(db, manager, user, parse_id(session_id, "Session"))
    return MessageEnvelope(message="Session logged out; scan a new QR code to link it again")


@router.post("/{session_id}/api-key")
async def rotate_api_key(
    session_id: str, db: DbSession, user: CurrentUser
) -> Envelope[RotatedKeyData]:
    rotated = await service.rotate_api_key(db, user, parse_id(session_id, "Session"))
    return ok(
        RotatedKeyData(
            sessionId=str(rotated.session.id),
            apiKey=rotated.api_key,
            message="New API key issued; the previous key no longer works",
        )
    )


@router.patch("/{session_id}")
async def update_session(
    session_id: str, body: UpdateSessionRequest, db: DbSession, user: CurrentUser
) -> Envelope[SessionListItem]:
    session = await service.update(
        db,
        user,
        parse_id(session_id, "Session"),
        name=body.name,
        send_rate_per_minute=body.sendRatePerMinute,
        typing_delay_ms=body.typingDelay,
        fields_set=body.model_fields_set,
    )
    return ok(_list_item(session))


@router.delete("/{session_id}")
async def delete_session(
    session_id: str, db: DbSession, user: CurrentUser, manager: Manager, ip: ClientAddress
) -> MessageEnvelope:
    await lifecycle.delete(db, manager, user, parse_id(session_id, "Session"), ip_address=ip)
    return MessageEnvelope(message="Session disconnected and deleted")
