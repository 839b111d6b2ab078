"""JWT access tokens (HS256 only) and opaque API keys.

The tokens are standard JWTs (RFC 7519) signed with HMAC-SHA256, made and read
here with ``hmac`` and ``json``: a JWT library would load ``cryptography`` for
algorithms wagate never accepts (11 MB resident at start)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ALGORITHM = "HS256"
_HEADER = {"alg": ALGORITHM, "typ": "JWT"}
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
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=expires_minutes)).timestamp()),
        "typ": "access",
        "ver": credential_version,
    }
    signing_input = f"{_b64_json(_HEADER)}.{_b64_json(claims)}"
    return f"{signing_input}.{_b64(_sign(signing_input, secret))}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64_json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _unb64(part: str) -> bytes:
    # Strict: the URL-safe alphabet only, padding restored, nothing else accepted.
    return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)


def _sign(signing_input: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()


def _verified_claims(token: str, secret: str) -> dict[str, Any]:
    """The claims of a token whose HS256 signature is good and whose times hold."""
    try:
        header_part, claims_part, signature_part = token.split(".")
        header = json.loads(_unb64(header_part))
        signature = _unb64(signature_part)
    except (ValueError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise TokenError("Invalid token") from exc
    # The algorithm is fixed, never taken from the token: ``alg: none`` and
    # algorithm-confusion tokens fail here like any forgery.
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise TokenError("Invalid token")
    if not hmac.compare_digest(signature, _sign(f"{header_part}.{claims_part}", secret)):
        raise TokenError("Invalid token")
    try:
        claims = json.loads(_unb64(claims_part))
    except (ValueError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise TokenError("Invalid token") from exc
    if not isinstance(claims, dict) or not {"exp", "iat", "sub"} <= claims.keys():
        raise TokenError("Invalid token")
    times = [claims["exp"], claims["iat"], claims.get("nbf", 0)]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        raise TokenError("Invalid token")
    now = time.time()
    if claims["exp"] <= now:
        raise TokenError("Token has expired")
    if claims.get("nbf", 0) > now:
        raise TokenError("Invalid token")
    return claims


def read_token(token: str, secret: str) -> TokenClaims:
    """Whom a token was issued to. Only HS256 is accepted, so ``alg: none``
    and algorithm-confusion tokens fail like any forgery."""
    claims = _verified_claims(token, secret)
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
