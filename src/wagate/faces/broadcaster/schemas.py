"""The broadcaster seed's shapes. The seed shows only ``start-session``'s
answer; the account object follows its ``whatsapp_accounts`` table."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from wagate.schemas import ApiDateTime, RequestModel
from wagate.sessions.models import SessionState, WhatsAppSession


def plus(digits: str | None) -> str | None:
    return f"+{digits}" if digits else None


class StartSessionRequest(RequestModel):
    phoneNumber: str = Field(min_length=1, max_length=32)


class SendMessageRequest(RequestModel):
    accountId: str = Field(min_length=1, max_length=64)
    phoneNumber: str = Field(min_length=1, max_length=32)
    message: str = Field(min_length=1, max_length=65536)


class StartedSession(BaseModel):
    accountId: str
    # A data URL of the first QR code's PNG (``data:image/png;base64,...``);
    # null when the account reconnected without a scan or no code came in time.
    qrCode: str | None
    status: str


class Account(BaseModel):
    """An account as the seed's table has it, plus our state and the declared
    number compared with the one that scanned."""

    id: str
    accountId: str
    userId: str
    phoneNumber: str | None  # the linked number, else the declared one (+E.164)
    declaredPhoneNumber: str | None
    linkedPhoneNumber: str | None
    phoneMatches: bool | None  # null until a phone has scanned
    isActive: bool  # connected now ("Online")
    status: str
    lastLogin: ApiDateTime | None
    createdAt: ApiDateTime
    updatedAt: ApiDateTime

    @classmethod
    def of(cls, session: WhatsAppSession) -> Account:
        declared, linked = session.declared_phone, session.phone_number
        return cls(
            id=str(session.id),
            accountId=str(session.id),
            userId=str(session.user_id),
            phoneNumber=plus(linked or declared),
            declaredPhoneNumber=plus(declared),
            linkedPhoneNumber=plus(linked),
            phoneMatches=(declared == linked) if declared and linked else None,
            isActive=session.session_state is SessionState.CONNECTED,
            status=session.session_state.value,
            lastLogin=session.last_connected_at,
            createdAt=session.created_at,
            updatedAt=session.updated_at,
        )


class AccountList(BaseModel):
    sessions: list[Account]


class Disconnected(BaseModel):
    success: Literal[True] = True
    message: str
    session: Account
