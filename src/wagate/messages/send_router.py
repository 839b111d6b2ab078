"""Sending, as the SAK reference: ``/messages/send`` and ``/messages/send-<kind>``.

A send is stored before anything is sent (``messages.sending``); the answer says
``sent`` when the engine acknowledged it within ``WAGATE_SEND_WAIT_SECONDS``,
else ``queued``. That wait happens while the response is being sent, after the
request's transaction committed, so the queue never races a row that is not
there yet.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from wagate.deps import ApiSession, DbSession, Manager, Queue, SettingsDep
from wagate.engines.base import ContactCard, Location, Reaction
from wagate.errors import AppError, ErrorCode
from wagate.fields import jid_field
from wagate.jid import InvalidJidError, normalize_number
from wagate.messages import sending, service, uploads
from wagate.messages.schemas import (
    SendContactRequest,
    SendLocationRequest,
    SendMediaJson,
    SendReactionRequest,
    SendTextRequest,
)
from wagate.messages.service import OutgoingSpec
from wagate.responses import DeferredJSONResponse
from wagate.schemas import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/messages", tags=["messages"])
M = TypeVar("M", bound=BaseModel)

MEDIA_FIELDS = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "document",
    "sticker": "sticker",
}


def answer(submitted: sending.Submitted) -> DeferredJSONResponse:
    """``{messageId, status}``, rendered once the engine acked or the wait ran out."""

    async def body() -> dict[str, Any]:
        status = await submitted.status()
        return {"success": True, "data": {"messageId": submitted.message_id, "status": status}}

    return DeferredJSONResponse(body)


class Sender:
    """What every send endpoint needs, gathered once: the session the key acts
    for, the request's unit of work, the manager and the queue."""

    def __init__(
        self,
        request: Request,
        db: DbSession,
        session: ApiSession,
        manager: Manager,
        queue: Queue,
        settings: SettingsDep,
    ) -> None:
        self.request = request
        self.db = db
        self.session = session
        self.manager = manager
        self.queue = queue
        self.settings = settings

    async def send(self, spec: OutgoingSpec) -> DeferredJSONResponse:
        submitted = await sending.submit(
            self.db,
            self.manager,
            self.queue,
            self.session,
            spec,
            idempotency_key=self.request.headers.get("idempotency-key"),
        )
        return answer(submitted)


async def get_sender(
    request: Request,
    db: DbSession,
    session: ApiSession,
    manager: Manager,
    queue: Queue,
    settings: SettingsDep,
) -> Sender:
    # A function, not ``Depends()`` on the class: FastAPI calls a class (a plain
    # callable) in a worker thread, a hand-off per send.
    return Sender(request, db, session, manager, queue, settings)


SenderDep = Annotated[Sender, Depends(get_sender)]


@router.post("/send", response_model=None)
async def send_text(
    body: SendTextRequest,
    sender: SenderDep,
) -> DeferredJSONResponse:
    spec = OutgoingSpec(
        kind="text",
        to=jid_field(body.to, "to"),
        text=body.text,
        quoted_message_id=body.quotedMessageId,
        typing_delay_ms=body.typingDelay,
    )
    return await sender.send(spec)


def _media_endpoint(kind: str) -> None:
    field = MEDIA_FIELDS[kind]

    async def endpoint(sender: SenderDep) -> DeferredJSONResponse:
        spec = await _media_spec(
            sender.request, kind, field, sender.settings, sender.db, sender.session.user_id
        )
        return await sender.send(spec)

    endpoint.__name__ = f"send_{kind}"
    router.add_api_route(
        f"/send-{kind}",
        endpoint,
        methods=["POST"],
        response_model=None,
        summary=f"Send {'an' if kind[0] in 'aeiou' else 'a'} {kind}",
        description=(
            f"multipart/form-data with `to`, `caption?`, `{field}` (the file)"
            + (", `filename?`" if kind == "document" else "")
            + (", `voiceNote?`" if kind == "audio" else "")
            + "; or JSON `{to, mediaUrl | media (base64) + mimetype, caption?, filename?}`."
        ),
    )


async def _media_spec(
    request: Request,
    kind: str,
    field: str,
    settings: SettingsDep,
    db: AsyncSession,
    owner_id: uuid.UUID,
) -> OutgoingSpec:
    store = request.app.state.media_store
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=20)
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise AppError(ErrorCode.VALIDATION_ERROR, f"{field}: a file is required")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        body = _validate(SendMediaJson, fields)
        media_input = await uploads.from_upload(store, upload, kind=kind, settings=settings)
        filename = body.filename or upload.filename
        media = uploads.checked_media(replace(media_input, filename=filename), kind=kind)
    else:
        try:
            raw = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AppError(ErrorCode.VALIDATION_ERROR, "Request body is not valid JSON") from exc
        body = _validate(SendMediaJson, raw)
        if body.mediaUrl:
            media = await uploads.media_from_url(
                db,
                store,
                request.app.state.http_clients,
                owner_id,
                body.mediaUrl,
                kind=kind,
                filename=body.filename,
                settings=settings,
            )
        elif body.media:
            media_input = await uploads.from_base64(
                store,
                body.media,
                kind=kind,
                mimetype=body.mimetype,
                filename=body.filename,
                settings=settings,
            )
            media = uploads.checked_media(media_input, kind=kind)
        else:
            raise AppError(
                ErrorCode.VALIDATION_ERROR,
                f"{field}: send a file (multipart), mediaUrl, or media (base64) with mimetype",
            )
    return OutgoingSpec(
        kind=kind,  # type: ignore[arg-type]
        to=jid_field(body.to, "to"),
        caption=body.caption or None,
        media=media,
        voice_note=kind == "audio" and body.voiceNote,
        quoted_message_id=body.quotedMessageId,
        typing_delay_ms=body.typingDelay,
    )


def _validate(model: type[M], raw: object) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise AppError(ErrorCode.VALIDATION_ERROR, f"{where}: {first['msg']}") from exc


for _kind in MEDIA_FIELDS:
    _media_endpoint(_kind)


@router.post("/send-location", response_model=None)
async def send_location(
    body: SendLocationRequest,
    sender: SenderDep,
) -> DeferredJSONResponse:
    spec = OutgoingSpec(
        kind="location",
        to=jid_field(body.to, "to"),
        location=Location(body.latitude, body.longitude, body.name, body.address),
        quoted_message_id=body.quotedMessageId,
    )
    return await sender.send(spec)


def _vcard(name: str, phone: str | None) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}"]
    if phone:
        digits = normalize_number(phone)
        lines.append(f"TEL;type=CELL;waid={digits}:+{digits}")
    lines.append("END:VCARD")
    return "\n".join(lines)


@router.post("/send-contact", response_model=None)
async def send_contact(
    body: SendContactRequest,
    sender: SenderDep,
) -> DeferredJSONResponse:
    if not body.contact.vcard and not body.contact.phone:
        raise AppError(ErrorCode.VALIDATION_ERROR, "contact: give a phone or a vcard")
    try:
        vcard = body.contact.vcard or _vcard(body.contact.name, body.contact.phone)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"contact.phone: {exc}") from exc
    spec = OutgoingSpec(
        kind="contact",
        to=jid_field(body.to, "to"),
        contact=ContactCard(display_name=body.contact.name, vcard=vcard),
        quoted_message_id=body.quotedMessageId,
    )
    return await sender.send(spec)


@router.post("/send-reaction", response_model=None)
async def send_reaction(
    body: SendReactionRequest,
    sender: SenderDep,
) -> DeferredJSONResponse:
    to = jid_field(body.to, "to")
    target = await service.get_message(sender.db, sender.session.id, body.messageId)
    spec = OutgoingSpec(
        kind="reaction",
        to=to,
        reaction=Reaction(
            target_message_id=target.message_id,
            emoji=body.emoji,
            target_from_me=target.direction == "out",
            target_sender=target.from_jid,
        ),
    )
    return await sender.send(spec)
