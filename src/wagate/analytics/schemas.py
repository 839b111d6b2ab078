"""The analytics API's shapes, as the SAK reference names them (snake_case in the
daily rows and session items, camelCase in the summary and ``messageStats``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from wagate.schemas import ApiDateTime


class UsageDay(BaseModel):
    date: str  # YYYY-MM-DD (UTC)
    messages_sent: int
    messages_received: int
    messages_failed: int
    messages_delivered: int
    messages_read: int
    api_calls: int


class UsageSummary(BaseModel):
    totalMessagesSent: int
    totalMessagesReceived: int
    totalMessagesFailed: int
    totalMessagesDelivered: int
    totalMessagesRead: int
    totalApiCalls: int


class UsageData(BaseModel):
    startDate: str
    endDate: str
    daily: list[UsageDay]
    summary: UsageSummary


class MessageStats(BaseModel):
    total: int  # sent + received, as the reference counts it
    sent: int
    received: int
    failed: int
    delivered: int
    read: int
    deliveryRate: float  # delivered / sent, 0..1
    readRate: float  # read / sent, 0..1


class SessionAnalytics(BaseModel):
    session_id: str
    name: str
    status: str
    state: str
    phone_number: str | None
    created_at: ApiDateTime
    api_calls: int
    messageStats: MessageStats


class SessionAnalyticsList(BaseModel):
    sessions: list[SessionAnalytics]


class ActivityOut(BaseModel):
    action: str
    metadata: dict[str, Any]
    ip_address: str | None
    created_at: ApiDateTime


class ActivityList(BaseModel):
    logs: list[ActivityOut]
