"""The broadcast API's shapes (native face: the success envelope, camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from wagate.schemas import ApiDateTime, RequestModel

Fields = dict[str, str | int | float | bool | None]


class CreateContactRequest(RequestModel):
    phone: str = Field(min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=50)
    fields: Fields = Field(default_factory=dict)
    optedOut: bool = False


class UpdateContactRequest(RequestModel):
    phone: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=50)
    fields: Fields | None = None
    optedOut: bool | None = None


class ContactItem(BaseModel):
    id: str
    phone: str  # +E.164
    jid: str
    name: str | None
    tags: list[str]
    fields: dict[str, Any]
    optedOut: bool
    optedOutAt: ApiDateTime | None
    createdAt: ApiDateTime
    updatedAt: ApiDateTime


class ContactList(BaseModel):
    contacts: list[ContactItem]
    total: int
    limit: int
    offset: int


class RejectedRow(BaseModel):
    line: int
    reason: str


class ImportReportData(BaseModel):
    imported: int
    updated: int
    rejectedCount: int
    rejected: list[RejectedRow]


class CreateTemplateRequest(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4096)
    mediaUrl: str | None = Field(default=None, max_length=2048)
    mediaType: str | None = None
    defaults: Fields = Field(default_factory=dict)


class UpdateTemplateRequest(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=4096)
    mediaUrl: str | None = Field(default=None, max_length=2048)
    mediaType: str | None = None
    defaults: Fields | None = None


class TemplateItem(BaseModel):
    id: str
    name: str
    body: str
    variables: list[str]
    mediaUrl: str | None
    mediaType: str | None
    defaults: dict[str, Any]
    createdAt: ApiDateTime
    updatedAt: ApiDateTime


class PreviewRequest(RequestModel):
    """A stored template (``templateId``) or a draft ``body``, for a contact and/or variables."""

    templateId: str | None = None
    body: str | None = Field(default=None, max_length=4096)
    contactId: str | None = None
    variables: Fields = Field(default_factory=dict)


class PreviewData(BaseModel):
    text: str


class CreateCampaignRequest(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    templateId: str
    sessionIds: list[str] = Field(min_length=1, max_length=50)
    # Each session's share of the round robin, in sessionIds' order (default: equal).
    sessionWeights: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=list, max_length=50
    )
    contactIds: list[str] = Field(default_factory=list, max_length=100_000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    ratePerMinute: int | None = Field(default=None, ge=0, le=6000)
    jitterSeconds: float | None = Field(default=None, ge=0, le=3600)
    typingMs: int = Field(default=0, ge=0, le=20_000)
    dailyCap: int | None = Field(default=None, ge=1)
    quietStart: str | None = None  # "HH:MM" in timeZone
    quietEnd: str | None = None
    timeZone: str = Field(default="UTC", max_length=64)
    checkNumbers: bool = False
    scheduledAt: datetime | None = None
    start: bool = False


class CampaignStats(BaseModel):
    total: int
    pending: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    skipped: int
    replied: int
    deliveryRate: float
    readRate: float


class CampaignItem(BaseModel):
    id: str
    name: str
    templateId: str
    sessionIds: list[str]
    sessionWeights: dict[str, int]
    audience: dict[str, Any]
    state: str
    ratePerMinute: int
    jitterSeconds: float
    typingMs: int
    dailyCap: int | None
    quietStart: str | None
    quietEnd: str | None
    timeZone: str
    checkNumbers: bool
    scheduledAt: ApiDateTime | None
    createdAt: ApiDateTime
    startedAt: ApiDateTime | None
    finishedAt: ApiDateTime | None
    stats: CampaignStats


class CampaignList(BaseModel):
    campaigns: list[CampaignItem]


class RecipientItem(BaseModel):
    id: str
    contactId: str
    phone: str
    text: str
    status: str
    reason: str | None
    sessionId: str | None
    messageId: str | None
    queuedAt: ApiDateTime | None
    repliedAt: ApiDateTime | None


class RecipientList(BaseModel):
    recipients: list[RecipientItem]
