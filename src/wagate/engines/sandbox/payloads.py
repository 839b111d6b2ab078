"""Turning what a person posts for a phone to send into an :class:`OutgoingMessage`."""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast, get_args

from wagate.engines.base import (
    ContactCard,
    Location,
    MediaContent,
    MessageKind,
    OutgoingMessage,
    Reaction,
)
from wagate.engines.sandbox.ids import new_message_id
from wagate.engines.sandbox.models import SandboxError

_KINDS = frozenset(get_args(MessageKind))
_FIELDS = frozenset(
    {
        "to",
        "type",
        "text",
        "caption",
        "media",
        "mimetype",
        "filename",
        "voiceNote",
        "latitude",
        "longitude",
        "name",
        "address",
        "displayName",
        "vcard",
        "targetMessageId",
        "emoji",
        "quotedMessageId",
    }
)


def outgoing_from_payload(payload: dict[str, Any]) -> OutgoingMessage:
    """``payload`` keys: ``to`` and ``type`` (default ``text``), then by type:
    ``text``; media (``image|video|audio|document|sticker``): ``media`` (bytes or
    base64), ``mimetype``, ``filename?``, ``caption?``, ``voiceNote?``;
    ``location``: ``latitude``, ``longitude``, ``name?``, ``address?``;
    ``contact``: ``displayName``, ``vcard``; ``reaction``: ``targetMessageId``,
    ``emoji`` (empty removes). Any type may carry ``quotedMessageId``."""
    unknown = set(payload) - _FIELDS
    if unknown:
        raise SandboxError.invalid(f"unknown message fields: {', '.join(sorted(unknown))}")
    kind = payload.get("type", "text")
    if kind not in _KINDS:
        raise SandboxError.invalid(f"type must be one of {', '.join(sorted(_KINDS))}")
    to = _text(payload, "to", required=True)
    assert to is not None
    message: dict[str, Any] = {
        "message_id": new_message_id(),
        "to": to,
        "kind": cast(MessageKind, kind),
        "quoted_message_id": _text(payload, "quotedMessageId"),
    }
    if kind == "text":
        message["text"] = _text(payload, "text", required=True)
    elif kind == "location":
        message["location"] = Location(
            latitude=_number(payload, "latitude", -90, 90),
            longitude=_number(payload, "longitude", -180, 180),
            name=_text(payload, "name"),
            address=_text(payload, "address"),
        )
    elif kind == "contact":
        display_name = _text(payload, "displayName", required=True)
        vcard = _text(payload, "vcard", required=True)
        assert display_name is not None and vcard is not None
        message["contact"] = ContactCard(display_name, vcard)
    elif kind == "reaction":
        target = _text(payload, "targetMessageId", required=True)
        emoji = payload.get("emoji", "")
        if not isinstance(emoji, str):
            raise SandboxError.invalid("emoji must be a string")
        assert target is not None
        message["reaction"] = Reaction(target, emoji)
    else:
        mimetype = _text(payload, "mimetype", required=True)
        assert mimetype is not None
        message["media"] = MediaContent(_media_bytes(payload), mimetype, _text(payload, "filename"))
        message["text"] = _text(payload, "caption")
        message["voice_note"] = payload.get("voiceNote") is True
    return OutgoingMessage(**message)


def _text(payload: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise SandboxError.invalid(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise SandboxError.invalid(f"{key} must be a string")
    return value


def _number(payload: dict[str, Any], key: str, low: float, high: float) -> float:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SandboxError.invalid(f"{key} must be a number from {low} to {high}")
    return float(value)


def _media_bytes(payload: dict[str, Any]) -> bytes:
    value = payload.get("media")
    if isinstance(value, bytes) and value:
        return value
    if isinstance(value, str) and value:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SandboxError.invalid("media must be bytes or base64") from None
    raise SandboxError.invalid("media is required for a media message")
