"""The multi-session guide's shapes, field for field, and the state map."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from wagate.engines.base import GroupInfo
from wagate.schemas import RequestModel
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.webhooks.schemas import URL_MAX_LENGTH


class LoginRequest(RequestModel):
    # A username, or an email: login accepts either.
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class LoginUser(BaseModel):
    id: str
    username: str


class LoginResponse(BaseModel):
    success: Literal[True] = True
    token: str
    user: LoginUser


class CreateSessionRequest(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    webhook_url: str | None = Field(default=None, max_length=URL_MAX_LENGTH)
    # The number this session will link, so /api/send can choose it before it has.
    phone: str | None = Field(default=None, max_length=32)


class RenameRequest(RequestModel):
    name: str = Field(min_length=1, max_length=100)


class WebhookRequest(RequestModel):
    # Empty or null removes the session's webhook.
    webhook_url: str | None = Field(max_length=URL_MAX_LENGTH)


class SendRequest(RequestModel):
    recipient: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=65536)


class SendByPhoneRequest(SendRequest):
    phone: str = Field(min_length=1, max_length=32)


class CheckNumberRequest(RequestModel):
    number: str = Field(min_length=1, max_length=32)


class MultiSession(BaseModel):
    """A session as the guide's clients read it (``session.id``, ``session.phone``,
    ``s.connected``, ``s.logged_in``), and our finer ``state``."""

    id: str
    name: str
    phone: str | None
    connected: bool
    logged_in: bool
    state: str

    @classmethod
    def of(cls, session: WhatsAppSession) -> MultiSession:
        state = session.session_state
        return cls(
            id=str(session.id),
            name=session.name,
            phone=session.phone_number or session.declared_phone,
            # whatsmeow's IsConnected: the socket is up and authenticated.
            connected=state is SessionState.CONNECTED,
            # whatsmeow's IsLoggedIn: a device is linked (it may be offline now).
            logged_in=session.linked,
            state=state.value,
        )


class Done(BaseModel):
    success: Literal[True] = True
    message: str


class SessionDone(Done):
    session: MultiSession


class WebhookDone(Done):
    webhook_url: str | None


class SendDone(Done):
    message_id: str
    status: str


class NumberChecked(BaseModel):
    success: Literal[True] = True
    number: str
    on_whatsapp: bool
    verified: bool
    verified_name: str | None


class MultiGroup(BaseModel):
    jid: str
    name: str
    topic: str
    description: str
    owner: str | None
    participant_count: int
    is_admin: bool
    is_super_admin: bool

    @classmethod
    def of(cls, group: GroupInfo, own_jid: str | None) -> MultiGroup:
        """``is_admin`` and ``is_super_admin`` are this session's own rights in the group."""
        me = next((p for p in group.participants if own_jid and p.jid == own_jid), None)
        topic = group.topic or ""
        return cls(
            jid=group.jid,
            name=group.name,
            topic=topic,
            description=topic,
            owner=group.owner,
            participant_count=len(group.participants),
            is_admin=bool(me and (me.is_admin or me.is_super_admin)),
            is_super_admin=bool(me and me.is_super_admin),
        )


class GroupList(BaseModel):
    success: Literal[True] = True
    count: int
    groups: list[MultiGroup]
