"""Password hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so a login for an
    unknown email costs the same time as one for a known email. Made at the first
    login, not at import: a hash takes 19 MiB and tens of milliseconds."""
    return _hasher.hash("wagate-timing-equaliser")


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 commonest passwords of leaked lists, as zxcvbn ranks them.
    Loaded when a password is first checked: zxcvbn's word lists take 14 MB,
    which a gateway that never sets a password should not carry."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


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
    if password.lower() in _common_passwords():
        return "password is one of the most common passwords; choose another"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)
