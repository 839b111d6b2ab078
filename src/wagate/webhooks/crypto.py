"""Webhook secrets encrypted at rest with a key derived from the instance secret."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# ``cryptography`` (9 MB resident) is imported when a secret is first encrypted or
# read, not with the app: a gateway without webhooks never loads it.

# Domain separation: the instance secret also signs JWTs; this key only ever
# encrypts webhook secrets.
_INFO = b"wagate webhook secrets v1"


class SecretUnreadableError(Exception):
    """A stored secret was encrypted under another instance secret (or is damaged)."""


@lru_cache(maxsize=4)
def _fernet(instance_secret: str) -> Fernet:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        instance_secret.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str, instance_secret: str) -> str:
    return _fernet(instance_secret).encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str, instance_secret: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(instance_secret).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretUnreadableError(
            "the webhook secret cannot be decrypted (was WAGATE_SECRET_KEY changed?)"
        ) from exc
