"""Messages: a session's conversations, one chat with its bubbles and ticks, and
a composer for text and a file. Reads go through the same services the
history API reads from (``messages.conversations``); a send goes through the
same send service (``messages.sending``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from starlette.datastructures import UploadFile as StarletteUpload

from wagate.dashboard.sessions_pages import OwnedSession, owned
from wagate.dashboard.web import (
    PageRoute,
    PageUser,
    check_csrf,
    redirect,
    render,
    wants_json,
)
from wagate.deps import DbSession, Manager, Queue, SettingsDep
from wagate.engines.base import MessageKind
from wagate.errors import AppError, ErrorCode
from wagate.fields import jid_field
from wagate.jid import is_group, number_of
from wagate.messages import conversations, sending, uploads
from wagate.messages.conversations import HistoryQuery
from wagate.messages.media_response import media_response
from wagate.messages.models import Chat, Message, MessageStatus
from wagate.messages.service import OutgoingSpec
from wagate.responses import DeferredJSONResponse
from wagate.sessions import service as sessions_service
from wagate.sessions.models import WhatsAppSession

router = APIRouter(
    route_class=PageRoute, dependencies=[Depends(check_csrf)], include_in_schema=False
)

CHAT_LIMIT = 100
MESSAGE_LIMIT = 200


def chat_title(chat: Chat | None, jid: str) -> str:
    if chat is not None and chat.name:
        return chat.name
    return jid if is_group(jid) else f"+{number_of(jid)}"


def bubble(message: Message) -> dict[str, Any]:
    """What a bubble shows; the template only lays it out."""
    return {
        "id": message.message_id,
        "out": message.direction == "out",
        "type": message.type,
        "text": message.text if message.type == "text" else message.caption,
        "status": MessageStatus(message.status).public,
        "error": message.error,
        "mimetype": message.media_mimetype or "",
        "filename": message.media_filename,
        "size": message.media_size,
        "has_media": bool(message.media_sha256),
        "content": message.content or {},
        "sender": message.push_name if message.participant else None,
        "at": message.timestamp,
    }


def _chat_items(listed: list[conversations.ChatWithLast]) -> list[dict[str, Any]]:
    return [
        {
            "jid": item.chat.jid,
            "title": chat_title(item.chat, item.chat.jid),
            "unread": item.chat.unread_count,
            "at": item.chat.last_message_at,
            "last": bubble(item.last) if item.last else None,
        }
        for item in listed
    ]


async def _chat_list(db: DbSession, session: WhatsAppSession) -> list[dict[str, Any]]:
    return _chat_items(await conversations.chats(db, session, limit=CHAT_LIMIT, offset=0))


def _bubbles(messages: list[Message]) -> list[dict[str, Any]]:
    return [bubble(m) for m in reversed(messages)]


@router.get("/dashboard/messages")
async def messages_home(request: Request, db: DbSession, user: PageUser) -> Response:
    sessions = await sessions_service.list_owned(db, user)
    if len(sessions) == 1:
        return redirect(request, f"/dashboard/sessions/{sessions[0].id}/chats")
    context = {"title": "Messages", "nav": "messages", "sessions": sessions}
    return render(request, "messages_home.html", context)


@router.get("/dashboard/sessions/{session_id}/chats")
async def chats_page(
    request: Request, db: DbSession, session: OwnedSession, to: str | None = None
) -> Response:
    if to:  # the "new chat" form
        chat_jid = jid_field(to, "Recipient")
        return redirect(request, f"/dashboard/sessions/{session.id}/chats/{chat_jid}")
    context = {
        "title": f"{session.name} · Messages",
        "nav": "messages",
        "session": session,
        "chats": await _chat_list(db, session),
        "active": None,
    }
    return render(request, "chats.html", context)


@router.get("/dashboard/sessions/{session_id}/chats/{jid}")
async def chat_page(request: Request, db: DbSession, session: OwnedSession, jid: str) -> Response:
    chat_jid = jid_field(jid, "Recipient")
    shown = await conversations.conversation(
        db, session, chat_jid, chat_limit=CHAT_LIMIT, message_limit=MESSAGE_LIMIT
    )
    title = chat_title(shown.chat, chat_jid)
    context = {
        "title": f"{title} · {session.name}",
        "nav": "messages",
        "session": session,
        "chats": _chat_items(shown.chats),
        "active": {"jid": chat_jid, "title": title},
        "bubbles": _bubbles(shown.messages),
    }
    return render(request, "chats.html", context)


@router.get("/dashboard/sessions/{session_id}/chat-list")
async def chat_list_partial(
    request: Request, db: DbSession, session: OwnedSession, active: str | None = None
) -> Response:
    context = {"session": session, "chats": await _chat_list(db, session), "active_jid": active}
    return render(request, "_chat_list.html", context)


@router.get("/dashboard/sessions/{session_id}/chats/{jid}/messages")
async def bubbles_partial(
    request: Request, db: DbSession, session: OwnedSession, jid: str
) -> Response:
    query = HistoryQuery(limit=MESSAGE_LIMIT, chat=jid_field(jid, "Recipient"))
    messages = await conversations.history(db, session, query)
    context = {"session": session, "bubbles": _bubbles(messages)}
    return render(request, "_bubbles.html", context)


@router.get("/dashboard/sessions/{session_id}/media/{message_id}")
async def media(
    request: Request, db: DbSession, session: OwnedSession, message_id: str
) -> Response:
    message, path = await conversations.stored_media(
        db, request.app.state.media_store, session, message_id
    )
    return media_response(
        path, message.media_mimetype, message.media_filename or message.message_id
    )


_KINDS: dict[str, MessageKind] = {"image/": "image", "video/": "video", "audio/": "audio"}


def _kind_of(upload: StarletteUpload) -> MessageKind:
    """What the browser says the file is; the bytes are checked after upload."""
    mimetype = (upload.content_type or "").lower()
    kinds = (kind for prefix, kind in _KINDS.items() if mimetype.startswith(prefix))
    return next(kinds, "document")


# A fixed path: the upload limit middleware knows it (see ``upload_limits``).
SEND_PATH = "/dashboard/send"


@router.post(SEND_PATH)
async def send(
    request: Request,
    db: DbSession,
    user: PageUser,
    manager: Manager,
    queue: Queue,
    settings: SettingsDep,
    session_id: Annotated[str, Form(max_length=64)],
    to: Annotated[str, Form(min_length=1, max_length=128)],
    text: Annotated[str, Form(max_length=65_536)] = "",
    idempotency_key: Annotated[str, Form(max_length=255)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    session = await owned(db, user, session_id)
    chat_jid = jid_field(to, "Recipient")
    text = text.strip()
    if file is not None and file.filename:
        kind = _kind_of(file)
        stored = await uploads.from_upload(
            request.app.state.media_store, file, kind=kind, settings=settings
        )
        media_ref = uploads.checked_media(stored, kind=kind)
        spec = OutgoingSpec(kind=kind, to=chat_jid, caption=text or None, media=media_ref)
    elif text:
        spec = OutgoingSpec(kind="text", to=chat_jid, text=text)
    else:
        raise AppError(ErrorCode.VALIDATION_ERROR, "Write a message or choose a file")
    submitted = await sending.submit(
        db, manager, queue, session, spec, idempotency_key=idempotency_key or None
    )
    if wants_json(request):

        async def sent() -> dict[str, str]:
            return {"messageId": submitted.message_id, "status": await submitted.status()}

        return DeferredJSONResponse(sent)
    return redirect(request, f"/dashboard/sessions/{session.id}/chats/{chat_jid}")
