"""Request and answer shapes of ``/sandbox/v1``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from wagate.schemas import RequestModel


class CreatePhoneRequest(RequestModel):
    phone: str = Field(min_length=6, max_length=32)
    name: str | None = Field(default=None, max_length=100)
    online: bool = True
    autoRead: bool = False
    autoReply: Literal["echo"] | None = None
    businessName: str | None = Field(default=None, min_length=1, max_length=100)


class UpdatePhoneRequest(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    online: bool | None = None
    autoRead: bool | None = None
    autoReply: Literal["echo"] | None = None
    businessName: str | None = Field(default=None, min_length=1, max_length=100)


class LinkRequest(RequestModel):
    qr: str = Field(min_length=1, max_length=2048)


class PairRequest(RequestModel):
    code: str = Field(min_length=1, max_length=16)


class UnlinkRequest(RequestModel):
    sessionId: str | None = None


class ReadRequest(RequestModel):
    messageIds: list[str] = Field(min_length=1, max_length=1000)


class CreateGroupRequest(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    owner: str = Field(min_length=6, max_length=32)
    participants: list[str] = Field(default_factory=list, max_length=1024)


class ParticipantsRequest(RequestModel):
    add: list[str] = Field(default_factory=list, max_length=1024)
    remove: list[str] = Field(default_factory=list, max_length=1024)


FaultKind = Literal["disconnect", "network_down", "network_up", "latency", "ban", "rate_limit"]


class FaultRequest(RequestModel):
    kind: FaultKind
    sessionId: str | None = None
    phone: str | None = None
    ms: float | None = Field(default=None, ge=0, le=60_000)
    count: int = Field(default=1, ge=1, le=10_000)
    retryAfter: float = Field(default=1.0, ge=0, le=3600)


class PhoneList(BaseModel):
    phones: list[dict[str, Any]]


class MessageList(BaseModel):
    messages: list[dict[str, Any]]


class GroupList(BaseModel):
    groups: list[dict[str, Any]]


class SessionList(BaseModel):
    sessions: list[dict[str, Any]]
