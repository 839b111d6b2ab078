"""WhatsApp addresses: turning what people type into JIDs, and back."""

from __future__ import annotations

import re

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"

# ASCII digits only: ``\d`` alone would take fullwidth and Arabic-Indic digits too.
_DIGITS = re.compile(r"^[0-9]{6,15}$")
_SEPARATORS = re.compile(r"[\s\-().]")
_GROUP_ID = re.compile(r"^[0-9]{6,20}(-[0-9]{6,12})?$")
_LID = re.compile(r"^[0-9]{1,20}$")


class InvalidJidError(ValueError):
    pass


def normalize_number(value: str) -> str:
    """``+91 98765 43210`` → ``919876543210``. Raises :class:`InvalidJidError`."""
    digits = _SEPARATORS.sub("", value.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    if not _DIGITS.fullmatch(digits):
        raise InvalidJidError(
            "must be a phone number in international format (6 to 15 digits, country code first)"
        )
    return digits


def to_jid(value: str) -> str:
    """Accept a number (with or without ``+``/spaces), a user JID or a group JID."""
    text = value.strip()
    if "@" in text:
        user, _, server = text.partition("@")
        user = user.split(":", 1)[0]  # drop a device suffix such as ``:12``
        if server == USER_SERVER:
            return f"{normalize_number(user)}@{USER_SERVER}"
        if server == GROUP_SERVER and _GROUP_ID.fullmatch(user):
            return f"{user}@{GROUP_SERVER}"
        if server == LID_SERVER and _LID.fullmatch(user):
            return f"{user}@{LID_SERVER}"
        raise InvalidJidError(
            "must be a phone number, a <number>@s.whatsapp.net or a <id>@g.us JID"
        )
    return f"{normalize_number(text)}@{USER_SERVER}"


def user_jid(number: str) -> str:
    return f"{normalize_number(number)}@{USER_SERVER}"


def is_group(jid: str) -> bool:
    return jid.endswith(f"@{GROUP_SERVER}")


def number_of(jid: str) -> str:
    """The user part of a JID: the phone number for ``@s.whatsapp.net``."""
    return jid.split("@", 1)[0].split(":", 1)[0]
