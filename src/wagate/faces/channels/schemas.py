"""The notification-channel seed's shapes, field for field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from wagate.faces.channels.states import ACTIVE, channel_status
from wagate.schemas import ApiDateTime, RequestModel
from wagate.sessions.models import WhatsAppSession
from wagate.webhooks.schemas import URL_MAX_LENGTH

CHANNEL_TYPE: Literal["whatsapp_automated"] = "whatsapp_automated"
MediaType = Literal["image", "video", "audio", "document"]


class CreateChannelRequest(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    # The number this channel will link (and the default for its pairing code).
    phoneNumber: str | None = Field(default=None, max_length=32)


class ConnectRequest(RequestModel):
    # Given: the link goes by pairing code for this number instead of a QR code.
    phoneNumber: str | None = Field(default=None, max_length=32)


class PairingCodeRequest(RequestModel):
    phoneNumber: str = Field(min_length=1, max_length=32)


class SendTextRequest(RequestModel):
    to: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=65536)
    type: Literal["text"] = "text"


class SendMediaRequest(RequestModel):
    to: str = Field(min_length=1, max_length=100)
    mediaType: MediaType
    mediaUrl: str = Field(min_length=1, max_length=URL_MAX_LENGTH)
    caption: str | None = Field(default=None, max_length=4096)
    fileName: str | None = Field(default=None, max_length=255)


def _phone(session: WhatsAppSession) -> str | None:
    return session.phone_number or session.declared_phone


def status_of(session: WhatsAppSession) -> str:
    return channel_status(session.session_state, session.reason)


class Channel(BaseModel):
    """A channel as creating it and listing channels show it."""

    channelId: str
    name: str
    type: Literal["whatsapp_automated"] = CHANNEL_TYPE
    status: str
    phoneNumber: str | None

    @classmethod
    def of(cls, session: WhatsAppSession) -> Channel:
        return cls(
            channelId=str(session.id),
            name=session.name,
            status=status_of(session),
            phoneNumber=_phone(session),
        )


class ListedChannel(Channel):
    lastStatusUpdate: ApiDateTime
    isActive: bool

    @classmethod
    def of(cls, session: WhatsAppSession) -> ListedChannel:
        status = status_of(session)
        return cls(
            channelId=str(session.id),
            name=session.name,
            status=status,
            phoneNumber=_phone(session),
            lastStatusUpdate=session.state_changed_at,
            isActive=status == ACTIVE,
        )


class ChannelStatus(BaseModel):
    channelId: str
    name: str
    status: str
    lastStatusUpdate: ApiDateTime
    isActive: bool

    @classmethod
    def of(cls, session: WhatsAppSession) -> ChannelStatus:
        status = status_of(session)
        return cls(
            channelId=str(session.id),
            name=session.name,
            status=status,
            lastStatusUpdate=session.state_changed_at,
            isActive=status == ACTIVE,
        )


class ChannelCreated(BaseModel):
    ok: Literal[True] = True
    payload: Channel


class ChannelList(BaseModel):
    ok: Literal[True] = True
    payload: list[ListedChannel]


class StatusAnswer(BaseModel):
    ok: Literal[True] = True
    payload: ChannelStatus


class ChannelAction(BaseModel):
    """Connect's and disconnect's answer: flat, as the seed shows it."""

    ok: Literal[True] = True
    message: str
    channelId: str
    status: str


class PairingCodePayload(BaseModel):
    channelId: str
    code: str
    phoneNumber: str


class PairingCodeAnswer(BaseModel):
    ok: Literal[True] = True
    message: str = "Pairing code generated"
    payload: PairingCodePayload
