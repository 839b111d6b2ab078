"""wagate makes and reads its HS256 tokens with ``hmac`` (no JWT library at run
time): they must be standard JWTs, and everything but a good HS256 signature
with valid times must be refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from wagate.auth.tokens import TokenError, issue_token, read_token

SECRET = "s" * 48


def test_a_token_is_a_standard_hs256_jwt_both_ways() -> None:
    user_id = uuid.uuid4()
    ours = issue_token(user_id, SECRET, expires_minutes=5, credential_version=3)
    claims = jwt.decode(ours, SECRET, algorithms=["HS256"], options={"require": ["exp", "iat"]})
    assert claims["sub"] == str(user_id) and claims["ver"] == 3 and claims["typ"] == "access"
    assert jwt.get_unverified_header(ours) == {"alg": "HS256", "typ": "JWT"}

    now = datetime.now(UTC)
    theirs = jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=5), "typ": "access"},
        SECRET,
        algorithm="HS256",
    )
    read = read_token(theirs, SECRET)
    assert (read.user_id, read.credential_version) == (user_id, 0)


def _token(claims: dict[str, object], algorithm: str = "HS256", secret: str = SECRET) -> str:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
    }
    return jwt.encode({**base, **claims}, secret, algorithm=algorithm)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _token({}, algorithm="HS512"), "Invalid token"),
        (lambda: _token({}, secret="another-" + "x" * 40), "Invalid token"),
        (lambda: _token({"exp": datetime.now(UTC) - timedelta(seconds=1)}), "Token has expired"),
        (lambda: _token({"nbf": datetime.now(UTC) + timedelta(minutes=1)}), "Invalid token"),
        (lambda: _token({"exp": "tomorrow"}), "Invalid token"),
        (lambda: _token({"typ": "refresh"}), "Invalid token"),
        (lambda: _token({"sub": "not-a-uuid"}), "Invalid token"),
        (lambda: _token({"ver": True}), "Invalid token"),
        (lambda: _token({}) + "A", "Invalid token"),
        (lambda: _token({}).rsplit(".", 1)[0] + ".", "Invalid token"),
        (lambda: "a.b", "Invalid token"),
        (lambda: "@@@.@@@.@@@", "Invalid token"),
    ],
    ids=[
        "hs512",
        "other-secret",
        "expired",
        "not-yet-valid",
        "exp-not-a-time",
        "not-access",
        "sub-not-a-uuid",
        "ver-not-an-int",
        "signature-changed",
        "signature-stripped",
        "two-parts",
        "not-base64",
    ],
)
def test_anything_but_a_valid_hs256_token_is_refused(make: Callable[[], str], message: str) -> None:
    with pytest.raises(TokenError, match=rf"^{message}$"):
        read_token(make(), SECRET)


def test_a_token_without_its_required_claims_is_refused() -> None:
    for missing in ("exp", "iat", "sub"):
        now = datetime.now(UTC)
        claims = {"sub": str(uuid.uuid4()), "iat": now, "exp": now + timedelta(minutes=5)}
        del claims[missing]
        with pytest.raises(TokenError, match=r"^Invalid token$"):
            read_token(jwt.encode({**claims, "typ": "access"}, SECRET, algorithm="HS256"), SECRET)
