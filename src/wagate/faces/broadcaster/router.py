"""The broadcaster seed's WhatsApp API under ``/api/v1/whatsapp`` (JWT): each
route validates, makes its service call and shapes the answer. ``accountId``
is a session id (or the account's number)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from wagate.campaigns import accounts
from wagate.deps import ClientAddress, CurrentUser, DbSession, Manager, Queue, SettingsDep
from wagate.errors import AppError, ErrorCode
from wagate.faces.broadcaster.face import PREFIX
from wagate.faces.broadcaster.schemas import (
    Account,
    AccountList,
    Disconnected,
    SendMessageRequest,
    StartedSession,
    StartSessionRequest,
)
from wagate.jid import InvalidJidError, to_jid
from wagate.messages import sending
from wagate.messages.service import OutgoingSpec
from wagate.responses import DeferredJSONResponse
from wagate.sessions import lifecycle
from wagate.sessions import service as sessions_service
from wagate.sessions.qr import qr_data_url
from wagate.storage.db import Database

router = APIRouter(prefix=PREFIX, tags=["broadcaster"])


@router.post("/start-session", response_model=None)
async def start_session(
    body: StartSessionRequest,
    request: Request,
    db: DbSession,
    user: CurrentUser,
    manager: Manager,
    settings: SettingsDep,
    ip: ClientAddress,
) -> DeferredJSONResponse:
    """``{accountId, qrCode}``: answered after the commit, once the first QR
    code is there (up to ``WAGATE_BROADCASTER_QR_WAIT_SECONDS``, the seed's 30 s)."""
    session = await accounts.start_for_number(db, manager, user, body.phoneNumber, ip_address=ip)
    session_id, linked = session.id, session.linked
    database: Database = request.app.state.database

    async def answer() -> dict[str, Any]:
        current = session
        if not linked:  # a scan is needed: wait for the code to show
            waited = await lifecycle.wait_for_qr(
                database, session_id, settings.broadcaster_qr_wait_seconds
            )
            current = waited or session
        code = lifecycle.current_qr(current)
        return StartedSession(
            accountId=str(session_id),
            qrCode=qr_data_url(code) if code else None,
            status=current.session_state.value,
        ).model_dump()

    return DeferredJSONResponse(answer)


@router.get("/sessions")
async def list_sessions(db: DbSession, user: CurrentUser) -> AccountList:
    """Every account of the caller; ``isActive`` says which are connected."""
    return AccountList(
        sessions=[Account.of(s) for s in await sessions_service.list_owned(db, user)]
    )


@router.get("/sessions/{account_id}")
async def get_session(account_id: str, db: DbSession, user: CurrentUser) -> Account:
    return Account.of(await lifecycle.find(db, user, account_id))


@router.post("/send-message", response_model=None)
async def send_message(
    body: SendMessageRequest, db: DbSession, user: CurrentUser, manager: Manager, queue: Queue
) -> DeferredJSONResponse:
    """Refused with the seed's "Account not connected" unless the account is online."""
    try:
        recipient = to_jid(body.phoneNumber)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"phoneNumber: {exc}") from exc
    submitted = await sending.submit_for(
        db,
        manager,
        queue,
        user,
        body.accountId,
        OutgoingSpec(kind="text", to=recipient, text=body.message),
        require_connected=True,
    )

    async def answer() -> dict[str, Any]:
        return {
            "success": True,
            "messageId": submitted.message_id,
            "status": await submitted.status(),
        }

    return DeferredJSONResponse(answer)


@router.delete("/sessions/{account_id}")
async def disconnect_session(
    account_id: str, db: DbSession, user: CurrentUser, manager: Manager
) -> Disconnected:
    """Disconnects and keeps the account (``start-session`` with its number
    connects it again)."""
    stopped = await lifecycle.disconnect(db, manager, user, account_id)
    return Disconnected(message="Account disconnected", session=Account.of(stopped))
