"""The notification-channel API (``../shared/seeds/notification-channels-baileys.md``)
under ``/api/whatsapp/channels``: a channel is a session; every route validates,
makes its service call and shapes the answer as the seed shows.

Credentials: the core's (Bearer JWT, user key or session key in ``x-api-key``),
or, for a page served from this origin, the dashboard's login cookie
(``faces/channels/credentials.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from wagate.deps import ClientAddress, DbSession, Manager, Queue, SettingsDep
from wagate.errors import AppError, ErrorCode
from wagate.faces.channels.credentials import ChannelPrincipal, ChannelSession
from wagate.faces.channels.face import PREFIX
from wagate.faces.channels.schemas import (
    Channel,
    ChannelAction,
    ChannelCreated,
    ChannelList,
    ChannelStatus,
    ConnectRequest,
    CreateChannelRequest,
    ListedChannel,
    PairingCodeAnswer,
    PairingCodePayload,
    PairingCodeRequest,
    SendMediaRequest,
    SendTextRequest,
    StatusAnswer,
    status_of,
)
from wagate.faces.channels.states import ACTIVE, CONNECTING
from wagate.fields import jid_field
from wagate.jid import InvalidJidError, normalize_number
from wagate.messages import sending, uploads
from wagate.messages.service import OutgoingSpec
from wagate.responses import DeferredJSONResponse
from wagate.sessions import lifecycle
from wagate.sessions import service as sessions_service
from wagate.sessions.models import SessionState
from wagate.storage.db import Database

router = APIRouter(prefix=PREFIX, tags=["notification channels"])


@router.post("", status_code=201)
async def create_channel(
    body: CreateChannelRequest,
    db: DbSession,
    principal: ChannelPrincipal,
    manager: Manager,
    ip: ClientAddress,
) -> ChannelCreated:
    """A session created without linking: ``inactive`` until ``connect``."""
    created = await lifecycle.create(
        db,
        manager,
        principal.user,
        name=body.name,
        connect=False,
        declared_phone=body.phoneNumber,
        ip_address=ip,
    )
    return ChannelCreated(payload=Channel.of(created.session))


@router.get("")
async def list_channels(db: DbSession, principal: ChannelPrincipal) -> ChannelList:
    if principal.session is not None:  # a session key sees its own channel only
        sessions = [principal.session]
    else:
        sessions = await sessions_service.list_owned(db, principal.user)
    return ChannelList(payload=[ListedChannel.of(s) for s in sessions])


@router.post("/{channel_id}/connect", response_model=None)
async def connect_channel(
    request: Request,
    channel: ChannelSession,
    db: DbSession,
    principal: ChannelPrincipal,
    manager: Manager,
    body: ConnectRequest | None = None,
) -> ChannelAction | DeferredJSONResponse:
    """Begin linking (the QR codes come as Socket.IO ``qr_code`` events), or with
    ``phoneNumber`` by pairing code (``pairing_code``); a linked channel resumes."""
    initiated = ChannelAction(
        message="Connection initiated", channelId=str(channel.id), status=CONNECTING
    )
    if channel.session_state is SessionState.CONNECTED:
        return ChannelAction(
            message="Channel is already connected", channelId=str(channel.id), status=ACTIVE
        )
    if body is None or not body.phoneNumber or channel.linked:
        # A linked device resumes: it needs no code.
        await lifecycle.connect(db, manager, principal.user, channel.id)
        return initiated
    # By pairing code: the channel is pending again with this commit (if it was
    # disconnected), and the code is requested once that is committed.
    try:
        phone = normalize_number(body.phoneNumber)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"phoneNumber: {exc}") from exc
    await lifecycle.connect(db, manager, principal.user, channel.id, start=False)
    database: Database = request.app.state.database

    async def pair() -> dict[str, Any]:
        async with database.transaction() as after:
            await lifecycle.request_pairing_code(after, manager, principal.user, channel.id, phone)
        return initiated.model_dump()

    return DeferredJSONResponse(pair)


@router.get("/{channel_id}/status")
async def channel_status(channel: ChannelSession) -> StatusAnswer:
    return StatusAnswer(payload=ChannelStatus.of(channel))


@router.post("/{channel_id}/disconnect")
async def disconnect_channel(
    channel: ChannelSession, db: DbSession, principal: ChannelPrincipal, manager: Manager
) -> ChannelAction:
    """Disconnect and stay so (``inactive``) until ``connect``; the device stays linked."""
    stopped = await lifecycle.disconnect(db, manager, principal.user, channel.id)
    return ChannelAction(
        message="Channel disconnected", channelId=str(stopped.id), status=status_of(stopped)
    )


@router.post("/{channel_id}/pairing-code")
async def pairing_code(
    body: PairingCodeRequest,
    channel: ChannelSession,
    db: DbSession,
    principal: ChannelPrincipal,
    manager: Manager,
) -> PairingCodeAnswer:
    pairing = await lifecycle.request_pairing_code(
        db, manager, principal.user, channel.id, body.phoneNumber
    )
    return PairingCodeAnswer(
        payload=PairingCodePayload(
            channelId=str(channel.id), code=pairing.code, phoneNumber=pairing.phone_number
        )
    )


def _sent(submitted: sending.Submitted, to: str, kind: str) -> DeferredJSONResponse:
    """Answered after the commit, once the engine acked (or the wait ran out)."""

    async def body() -> dict[str, Any]:
        status = await submitted.status()
        return {
            "ok": True,
            "message": "Message sent" if status != "queued" else "Message queued",
            "payload": {
                "messageId": submitted.message_id,
                "to": to,
                "type": kind,
                "status": status,
            },
        }

    return DeferredJSONResponse(body)


@router.post("/{channel_id}/send", response_model=None)
async def send_text(
    body: SendTextRequest,
    channel: ChannelSession,
    db: DbSession,
    manager: Manager,
    queue: Queue,
) -> DeferredJSONResponse:
    """Only from an ``active`` channel, as the seed's troubleshooting says."""
    spec = OutgoingSpec(kind="text", to=jid_field(body.to, "to"), text=body.message)
    submitted = await sending.submit(db, manager, queue, channel, spec, require_connected=True)
    return _sent(submitted, body.to, body.type)


@router.post("/{channel_id}/send-media", response_model=None)
async def send_media(
    request: Request,
    body: SendMediaRequest,
    channel: ChannelSession,
    db: DbSession,
    manager: Manager,
    queue: Queue,
    settings: SettingsDep,
) -> DeferredJSONResponse:
    """``mediaUrl`` is fetched through the SSRF guard (as the native face's)."""
    to = jid_field(body.to, "to")
    media = await uploads.media_from_url(
        db,
        request.app.state.media_store,
        request.app.state.http_clients,
        channel.user_id,
        body.mediaUrl,
        kind=body.mediaType,
        filename=body.fileName,
        settings=settings,
    )
    spec = OutgoingSpec(kind=body.mediaType, to=to, caption=body.caption or None, media=media)
    submitted = await sending.submit(db, manager, queue, channel, spec, require_connected=True)
    return _sent(submitted, body.to, body.mediaType)
