from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from wagate.schemas import ApiDateTime, RequestModel

Direction = Literal["in", "out"]


class SendTextRequest(RequestModel):
    to: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=65_536)
    quotedMessageId: str | None = Field(default=None, max_length=128)
    typingDelay: int | None = Field(default=None, ge=0, le=60_000)
    sessionId: str | None = None


class SendMediaJson(RequestModel):
    """Media by URL (fetched by the gateway) or inline as base64."""

    to: str = Field(min_length=1, max_length=128)
    mediaUrl: str | None = Field(default=None, max_length=4096)
    media: str | None = None
    mimetype: str | None = Field(default=None, max_length=200)
    caption: str | None = Field(default=None, max_length=4096)
    filename: str | None = Field(default=None, max_length=255)
    voiceNote: bool = False
    quotedMessageId: str | None = Field(default=None, max_length=128)
    typingDelay: int | None = Field(default=None, ge=0, le=60_000)
    sessionId: str | None = None


class SendLocationRequest(RequestModel):
    to: str = Field(min_length=1, max_length=128)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    quotedMessageId: str | None = Field(default=None, max_length=128)
    sessionId: str | None = None


class ContactIn(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    vcard: str | None = Field(default=None, max_length=16_384)


class SendContactRequest(RequestModel):
    to: str = Field(min_length=1, max_length=128)
    contact: ContactIn
    quotedMessageId: str | None = Field(default=None, max_length=128)
    sessionId: str | None = None


class SendReactionRequest(RequestModel):
    to: str = Field(min_length=1, max_length=128)
    messageId: str = Field(min_length=1, max_length=128)
    emoji: str = Field(default="", max_length=32)
    sessionId: str | None = None


class SendResult(BaseModel):
    messageId: str
    status: str


class HistoryItem(BaseModel):
    message_id: str
    to_number: str | None
    from_number: str | None
    message_type: str
    status: str
    direction: str
    chat: str
    text: str | None
    caption: str | None
    error: str | None
    media: dict[str, Any] | None
    content: dict[str, Any] | None
    quoted_message_id: str | None
    created_at: ApiDateTime
    updated_at: ApiDateTime


class HistoryData(BaseModel):
    messages: list[HistoryItem]
    limit: int
    offset: int


class StatusChangeOut(BaseModel):
    status: str
    reason: str | None
    at: ApiDateTime


class MessageDetail(HistoryItem):
    push_name: str | None
    participant: str | None
    sent_at: ApiDateTime | None
    delivered_at: ApiDateTime | None
    read_at: ApiDateTime | None
    failed_at: ApiDateTime | None
    statusHistory: list[StatusChangeOut]


class ChatOut(BaseModel):
    jid: str
    name: str | None
    is_group: bool
    unread_count: int
    last_message_at: ApiDateTime | None
    last_message: HistoryItem | None


class ChatList(BaseModel):
    chats: list[ChatOut]


class ContactOut(BaseModel):
    jid: str
    phone_number: str | None
    lid: str | None
    push_name: str | None
    first_seen_at: ApiDateTime
    last_seen_at: ApiDateTime


class ContactList(BaseModel):
    contacts: list[ContactOut]


class CheckNumbersRequest(RequestModel):
    numbers: list[str] = Field(min_length=1, max_length=500)
    sessionId: str | None = None


class NumberCheckOut(BaseModel):
    number: str
    jid: str | None
    onWhatsApp: bool


class NumberCheckList(BaseModel):
    results: list[NumberCheckOut]


class MarkReadResult(BaseModel):
    chat: str
    marked: int


class PresenceRequest(RequestModel):
    to: str = Field(min_length=1, max_length=128)
    presence: Literal["typing", "recording", "paused"]
    sessionId: str | None = None


class GroupParticipantOut(BaseModel):
    jid: str
    is_admin: bool
    is_super_admin: bool


class GroupOut(BaseModel):
    jid: str
    name: str
    topic: str | None
    owner: str | None
    participant_count: int
    participants: list[GroupParticipantOut]
    is_admin: bool


class GroupList(BaseModel):
    groups: list[GroupOut]
