from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from wagate.schemas import ApiDateTime, RequestModel


class CreateSessionRequest(RequestModel):
    name: str = Field(default="WhatsApp", min_length=1, max_length=100)
    engine: str | None = Field(default=None, max_length=32)
    connect: bool = Field(default=True, description="false: create it idle, link it later")
    phoneNumber: str | None = Field(
        default=None, min_length=6, max_length=32, description="the number it will link"
    )


class UpdateSessionRequest(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    sendRatePerMinute: int | None = Field(default=None, ge=0, le=6000)
    typingDelay: int | None = Field(default=None, ge=0, le=60_000, description="milliseconds")


class PairingCodeRequest(RequestModel):
    phoneNumber: str = Field(min_length=6, max_length=32)


class CreatedSessionData(BaseModel):
    sessionId: str
    apiKey: str
    name: str
    status: str
    state: str
    engine: str
    message: str


class RotatedKeyData(BaseModel):
    sessionId: str
    apiKey: str
    message: str


class SessionListItem(BaseModel):
    session_id: str
    name: str
    status: str
    state: str
    reason: str | None
    engine: str
    phone_number: str | None
    push_name: str | None
    api_key_last_four: str
    send_rate_per_minute: int | None
    typing_delay: int
    last_connected_at: ApiDateTime | None
    created_at: ApiDateTime


class SessionList(BaseModel):
    sessions: list[SessionListItem]


class SessionStatus(BaseModel):
    sessionId: str
    name: str
    status: str
    connected: bool
    phoneNumber: str | None
    pushName: str | None
    lastConnectedAt: ApiDateTime | None
    state: str
    reason: str | None
    detail: str | None
    engine: str
    reconnecting: bool


class QrData(BaseModel):
    qrCode: str | None
    qrImage: str | None = None
    expiresAt: ApiDateTime | None = None
    status: str
    state: str
    message: str


class PairingCodeData(BaseModel):
    code: str
    phoneNumber: str
    message: str


QrFormat = Literal["json", "png", "svg"]
