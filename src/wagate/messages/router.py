"""History and lookups: messages, chats, contacts, number checks, groups, presence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from wagate.deps import DbSession, Manager, SessionByKeyOrToken
from wagate.engines.base import GroupInfo
from wagate.errors import AppError, ErrorCode
from wagate.fields import jid_field, phone_field
from wagate.jid import is_group, number_of
from wagate.messages import conversations, directory
from wagate.messages.conversations import HistoryQuery
from wagate.messages.inbound import media_url
from wagate.messages.media_response import media_response
from wagate.messages.models import Chat, Contact, Message, MessageStatus
from wagate.messages.schemas import (
    ChatList,
    ChatOut,
    CheckNumbersRequest,
    ContactList,
    ContactOut,
    Direction,
    GroupList,
    GroupOut,
    GroupParticipantOut,
    HistoryData,
    HistoryItem,
    MarkReadResult,
    MessageDetail,
    NumberCheckList,
    NumberCheckOut,
    PresenceRequest,
    StatusChangeOut,
)
from wagate.schemas import API_PREFIX, MAX_OFFSET, Envelope, GivenDateTime, MessageEnvelope, ok
from wagate.sessions.models import WhatsAppSession

router = APIRouter(prefix=API_PREFIX, tags=["messages"])

Limit = Query(default=50, ge=1, le=500)
Offset = Query(default=0, ge=0, le=MAX_OFFSET)


def history_item(message: Message, base_url: str) -> HistoryItem:
    media: dict[str, Any] | None = None
    if message.media_mimetype:
        media = {
            "url": media_url(base_url, message) if message.media_sha256 else None,
            "mimetype": message.media_mimetype,
            "filename": message.media_filename,
            "size": message.media_size,
            "sha256": message.media_sha256,
        }
    to = message.to_jid or message.chat
    return HistoryItem(
        message_id=message.message_id,
        to_number=to if is_group(to) else number_of(to),
        from_number=number_of(message.from_jid) if message.from_jid else None,
        message_type=message.type,
        status=MessageStatus(message.status).public,
        direction=message.direction,
        chat=message.chat,
        text=message.text,
        caption=message.caption,
        error=message.error,
        media=media,
        content=message.content,
        quoted_message_id=message.quoted_message_id,
        created_at=message.created_at,
        updated_at=message.updated_at,
    )


def _base_url(request: Request) -> str:
    configured: str | None = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


@router.get("/messages/history")
async def history(
    request: Request,
    db: DbSession,
    session: SessionByKeyOrToken,
    limit: int = Limit,
    offset: int = Offset,
    direction: Direction | None = None,
    chat: str | None = None,
    status: str | None = Query(
        default=None, pattern="^(queued|sent|delivered|read|played|failed|received)$"
    ),
    since: GivenDateTime | None = None,
    until: GivenDateTime | None = None,
) -> Envelope[HistoryData]:
    query = HistoryQuery(
        limit=limit,
        offset=offset,
        direction=direction,
        chat=jid_field(chat, "chat") if chat else None,
        status=status,
        since=since,
        until=until,
    )
    return await _history_page(request, db, session, query)


async def _history_page(
    request: Request, db: DbSession, session: WhatsAppSession, query: HistoryQuery
) -> Envelope[HistoryData]:
    messages = await conversations.history(db, session, query)
    base = _base_url(request)
    return ok(
        HistoryData(
            messages=[history_item(m, base) for m in messages],
            limit=query.limit,
            offset=query.offset,
        )
    )


@router.get("/messages/{message_id}")
async def message_detail(
    message_id: str, request: Request, db: DbSession, session: SessionByKeyOrToken
) -> Envelope[MessageDetail]:
    found = await conversations.message_with_history(db, session, message_id)
    message = found.message
    item = history_item(message, _base_url(request))
    return ok(
        MessageDetail(
            **item.model_dump(),
            push_name=message.push_name,
            participant=message.participant,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
            read_at=message.read_at,
            failed_at=message.failed_at,
            statusHistory=[
                StatusChangeOut(
                    status=MessageStatus(c.status).public, reason=c.reason, at=c.created_at
                )
                for c in found.changes
            ],
        )
    )


@router.get("/messages/{message_id}/media", response_class=FileResponse)
async def message_media(
    message_id: str, request: Request, db: DbSession, session: SessionByKeyOrToken
) -> FileResponse:
    message, path = await conversations.stored_media(
        db, request.app.state.media_store, session, message_id
    )
    return media_response(path, message.media_mimetype, message.media_filename)


def _chat_out(chat: Chat, last: Message | None, base: str) -> ChatOut:
    return ChatOut(
        jid=chat.jid,
        name=chat.name,
        is_group=chat.is_group,
        unread_count=chat.unread_count,
        last_message_at=chat.last_message_at,
        last_message=history_item(last, base) if last else None,
    )


@router.get("/chats")
async def list_chats(
    request: Request,
    db: DbSession,
    session: SessionByKeyOrToken,
    limit: int = Limit,
    offset: int = Offset,
) -> Envelope[ChatList]:
    listed = await conversations.chats(db, session, limit=limit, offset=offset)
    base = _base_url(request)
    return ok(ChatList(chats=[_chat_out(c.chat, c.last, base) for c in listed]))


@router.get("/chats/{jid}/messages")
async def chat_messages(
    jid: str,
    request: Request,
    db: DbSession,
    session: SessionByKeyOrToken,
    limit: int = Limit,
    offset: int = Offset,
) -> Envelope[HistoryData]:
    query = HistoryQuery(limit=limit, offset=offset, chat=jid_field(jid))
    return await _history_page(request, db, session, query)


@router.post("/chats/{jid}/read")
async def mark_chat_read(
    jid: str, db: DbSession, session: SessionByKeyOrToken, manager: Manager
) -> Envelope[MarkReadResult]:
    chat_jid = jid_field(jid)
    marked = await conversations.mark_chat_read(db, manager, session, chat_jid)
    return ok(MarkReadResult(chat=chat_jid, marked=marked))


def _contact_out(contact: Contact) -> ContactOut:
    return ContactOut.model_validate(contact, from_attributes=True)


@router.get("/contacts")
async def list_contacts(
    db: DbSession, session: SessionByKeyOrToken, limit: int = Limit, offset: int = Offset
) -> Envelope[ContactList]:
    contacts = await conversations.contacts(db, session, limit=limit, offset=offset)
    return ok(ContactList(contacts=[_contact_out(c) for c in contacts]))


@router.post("/contacts/check")
async def check_numbers(
    body: CheckNumbersRequest, session: SessionByKeyOrToken, manager: Manager
) -> Envelope[NumberCheckList]:
    numbers = [phone_field(raw, f"numbers.{index}") for index, raw in enumerate(body.numbers)]
    checks = await directory.check_numbers(manager, session, numbers)
    return ok(
        NumberCheckList(
            results=[
                NumberCheckOut(number=c.number, jid=c.jid, onWhatsApp=c.on_whatsapp) for c in checks
            ]
        )
    )


def _group_out(group: GroupInfo, own_jid: str | None) -> GroupOut:
    participants = [
        GroupParticipantOut(jid=p.jid, is_admin=p.is_admin, is_super_admin=p.is_super_admin)
        for p in group.participants
    ]
    me = next((p for p in group.participants if own_jid and p.jid == own_jid), None)
    return GroupOut(
        jid=group.jid,
        name=group.name,
        topic=group.topic,
        owner=group.owner,
        participant_count=len(participants),
        participants=participants,
        is_admin=bool(me and (me.is_admin or me.is_super_admin)),
    )


@router.get("/groups")
async def list_groups(session: SessionByKeyOrToken, manager: Manager) -> Envelope[GroupList]:
    groups = await directory.groups(manager, session)
    return ok(GroupList(groups=[_group_out(g, session.jid) for g in groups]))


@router.get("/groups/{jid}")
async def group_detail(
    jid: str, session: SessionByKeyOrToken, manager: Manager
) -> Envelope[GroupOut]:
    group_jid = jid_field(jid)
    if not is_group(group_jid):
        raise AppError(ErrorCode.VALIDATION_ERROR, "jid: must be a group JID (…@g.us)")
    group = await directory.group(manager, session, group_jid)
    return ok(_group_out(group, session.jid))


@router.post("/presence")
async def send_presence(
    body: PresenceRequest, session: SessionByKeyOrToken, manager: Manager
) -> MessageEnvelope:
    await directory.send_presence(manager, session, jid_field(body.to, "to"), body.presence)
    return MessageEnvelope(message=f"Presence '{body.presence}' sent")
