"""A phone number or JID read from one field of a request: normalized, or a
validation error that names the field (every face renders it in its own shape)."""

from __future__ import annotations

from wagate.errors import AppError, ErrorCode
from wagate.jid import InvalidJidError, normalize_number, to_jid


def phone_field(value: str, field: str = "phone") -> str:
    """The number's digits, as the sessions and the sandbox store them."""
    try:
        return normalize_number(value)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"{field}: {exc}") from exc


def jid_field(value: str, field: str = "jid") -> str:
    """A chat's JID, from a number or a JID."""
    try:
        return to_jid(value)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"{field}: {exc}") from exc
