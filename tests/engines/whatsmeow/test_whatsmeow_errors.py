"""neonize's exceptions (with whatsmeow's texts) -> wagate's engine errors, in one place."""

from __future__ import annotations

import asyncio

import pytest
from neonize.exc import (
    DownloadError,
    GetGroupInfoError,
    IsOnWhatsAppError,
    NeonizeError,
    SendMessageError,
    UploadError,
)

from wagate.engines.base import (
    EngineError,
    InvalidRecipientError,
    MediaError,
    NetworkError,
    NotConnectedError,
    NotLinkedError,
    RateLimitedError,
    SessionBannedError,
)
from wagate.engines.whatsmeow.errors import EmptyAnswerError, engine_errors, translate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (SendMessageError("websocket not connected"), NotConnectedError),
        (SendMessageError("failed to get device list: info query timed out"), NetworkError),
        (SendMessageError("info query returned status 429: rate-overlimit"), RateLimitedError),
        (SendMessageError("can't send message to unknown server"), InvalidRecipientError),
        (GetGroupInfoError("you're not participating in that group"), InvalidRecipientError),
        (
            GetGroupInfoError("info query returned status 404: item-not-found"),
            InvalidRecipientError,
        ),
        (IsOnWhatsAppError("international phone number required"), InvalidRecipientError),
        (UploadError("failed to upload media: 500 Internal Server Error"), MediaError),
        (DownloadError("download failed with status code 410"), MediaError),
        (NeonizeError("the store doesn't contain a device JID"), NotLinkedError),
        (NeonizeError("account temporarily banned"), SessionBannedError),
        (
            NeonizeError(
                "failed to dial whatsapp web websocket: dial tcp: lookup web.whatsapp.com"
            ),
            NetworkError,
        ),
        (NeonizeError("Function returned nothing."), EmptyAnswerError),
        (NeonizeError("something new"), EngineError),
        (ConnectionResetError("peer reset"), NetworkError),
        (TimeoutError(), NetworkError),
    ],
)
def test_translate(error: Exception, expected: type[EngineError]) -> None:
    translated = translate(error, operation="send message")
    assert type(translated) is expected
    assert translated.message.startswith("send message")


def test_rate_limit_is_temporary_and_names_no_phone_digits() -> None:
    translated = translate(SendMessageError("status 429: rate-overlimit"), operation="send")
    assert translated.temporary
    # a number that merely contains 429 is not a rate limit
    other = translate(SendMessageError("no LID found for 15554290000"), operation="send")
    assert isinstance(other, InvalidRecipientError)


def test_engine_errors_wraps_and_keeps_the_cause() -> None:
    with pytest.raises(NotConnectedError) as caught, engine_errors("send presence"):
        raise SendMessageError("websocket not connected")
    assert isinstance(caught.value.__cause__, SendMessageError)
    assert caught.value.detail is not None and "websocket not connected" in caught.value.detail


def test_engine_errors_lets_engine_errors_and_cancellation_through() -> None:
    original = MediaError("already translated")
    with pytest.raises(MediaError) as caught, engine_errors("x"):
        raise original
    assert caught.value is original
    with pytest.raises(asyncio.CancelledError), engine_errors("x"):
        raise asyncio.CancelledError
