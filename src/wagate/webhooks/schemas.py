"""The webhook API's shapes: the SAK reference's fields, then ours."""

from __future__ import annotations

from pydantic import BaseModel, Field

from wagate.schemas import ApiDateTime, RequestModel
from wagate.webhooks.formats import WebhookFormat

URL_MAX_LENGTH = 2048


class CreateWebhookRequest(RequestModel):
    # Omitted (or null): a user-level webhook, for the user's own events
    # (campaign.*) and the subscribed events of every session of theirs.
    sessionId: str | None = Field(default=None, min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=URL_MAX_LENGTH)
    events: list[str] = Field(min_length=1, max_length=32)
    sendSecretHeader: bool = True
    # The body's shape: the SAK payload (signed), or the multi-session guide's (unsigned).
    format: WebhookFormat = WebhookFormat.SAK


class UpdateWebhookRequest(RequestModel):
    url: str | None = Field(default=None, min_length=1, max_length=URL_MAX_LENGTH)
    events: list[str] | None = Field(default=None, min_length=1, max_length=32)
    isActive: bool | None = None
    sendSecretHeader: bool | None = None


class CreatedWebhookData(BaseModel):
    webhookId: str
    url: str
    secret: str
    events: list[str]
    sendSecretHeader: bool
    format: str


class WebhookItem(BaseModel):
    id: str
    session_id: str | None  # None: a user-level webhook
    url: str
    events: list[str]
    is_active: bool
    failed_attempts: int
    created_at: ApiDateTime
    send_secret_header: bool
    last_success_at: ApiDateTime | None
    # Set while the endpoint is down (or asked to wait): nothing goes out before it.
    hold_until: ApiDateTime | None = None
    disabled_reason: str | None
    format: str


class WebhookList(BaseModel):
    webhooks: list[WebhookItem]


class RotatedSecretData(BaseModel):
    webhookId: str
    secret: str
    message: str


class TestEventData(BaseModel):
    eventId: str
    event: str
    message: str


class AttemptItem(BaseModel):
    attempt: int
    statusCode: int | None
    durationMs: int
    error: str | None
    attemptedAt: ApiDateTime
    nextRetryAt: ApiDateTime | None


class DeliveryItem(BaseModel):
    deliveryId: str
    eventId: str
    sequence: int
    eventType: str
    status: str
    attempts: int
    lastStatusCode: int | None
    lastError: str | None
    nextAttemptAt: ApiDateTime | None
    createdAt: ApiDateTime
    finishedAt: ApiDateTime | None
    history: list[AttemptItem]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryItem]
