"""Password hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.matching import RANKED_DICTIONARIES

# OWASP's minimum for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# A hash to verify against when the user does not exist, so a login for an
# unknown email costs the same time as one for a known email.
_DUMMY_HASH = _hasher.hash("wagate-timing-equaliser")

# The 30,000 commonest passwords of leaked lists, as zxcvbn ranks them.
_COMMON_PASSWORDS: Mapping[str, int] = RANKED_DICTIONARIES["passwords"]

MIN_LENGTH = 8
MAX_LENGTH = 128


def password_problem(password: str, email: str) -> str | None:
    """Why a password is refused, or ``None`` when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if password.strip() == "":
        return "password must not be blank"
    if password.lower() == email.lower() or password.lower() == email.split("@")[0].lower():
        return "password must not be the email address"
    if len(set(password)) < 4:
        return "password must use at least 4 different characters"
    if password.lower() in _COMMON_PASSWORDS:
        return "password is one of the most common passwords; choose another"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)
