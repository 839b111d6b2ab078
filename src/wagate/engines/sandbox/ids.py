"""Identifiers shaped like WhatsApp's, so what the sandbox hands out looks real."""

from __future__ import annotations

import base64
import secrets

# WhatsApp's pairing alphabet: no 0/O, 1/I or U, so a code read aloud is not misheard.
PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
PAIRING_CODE_LENGTH = 8
_GROUP_PREFIX = "120363"


def new_message_id() -> str:
    """``3EB0`` and 18 uppercase hex digits, as WhatsApp Web's own ids."""
    return "3EB0" + secrets.token_hex(9).upper()


def new_qr_code() -> str:
    """``2@<ref>,<noise key>,<identity key>,<adv secret>``, each part base64."""

    def part(size: int) -> str:
        return base64.b64encode(secrets.token_bytes(size)).decode()

    return f"2@{part(24)},{part(32)},{part(32)},{part(32)}"


def new_pairing_code() -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))


def normalize_pairing_code(code: str) -> str:
    """People type ``abcd-efgh`` or ``ABCD EFGH``; both mean ``ABCDEFGH``."""
    return code.replace("-", "").replace(" ", "").strip().upper()


def new_group_jid() -> str:
    digits = "".join(str(secrets.randbelow(10)) for _ in range(12))
    return f"{_GROUP_PREFIX}{digits}@g.us"
