"""JWT access tokens (HS256 only) and opaque API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
USER_KEY_PREFIX = "wgk_"
SESSION_KEY_PREFIX = "sak_"


class TokenError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    # The user's credential version when the token was issued (0 for tokens
    # from before versions were carried).
    credential_version: int


def issue_token(
    user_id: uuid.UUID, secret: str, expires_minutes: int, credential_version: int = 0
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=expires_minutes),
        "typ": "access",
        "ver": credential_version,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str) -> TokenClaims:
    """Whom a token was issued to. Only HS256 is accepted, so ``alg: none``
    and algorithm-confusion tokens fail like any forgery."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("Token has expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("Invalid token") from exc
    if claims.get("typ") != "access":
        raise TokenError("Invalid token")
    version = claims.get("ver", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise TokenError("Invalid token")
    try:
        return TokenClaims(uuid.UUID(str(claims["sub"])), version)
    except ValueError as exc:
        raise TokenError("Invalid token") from exc


@dataclass(frozen=True, slots=True)
class NewKey:
    raw: str
    hash: str
    last_four: str


def hash_key(raw: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is as safe as a slow one
    # and lets every request look its key up by an index.
    return hashlib.sha256(raw.encode()).hexdigest()


def new_key(prefix: str) -> NewKey:
    raw = prefix + secrets.token_urlsafe(32)
    return NewKey(raw=raw, hash=hash_key(raw), last_four=raw[-4:])


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
