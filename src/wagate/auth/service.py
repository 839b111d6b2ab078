"""Users, logins and user API keys. Takes a DB session and plain values; never commits."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics.service import record_activity
from wagate.auth import cache as credential_cache
from wagate.auth import passwords, tokens
from wagate.auth.models import ApiKey, User
from wagate.auth.repository import ApiKeyRepository, UserRepository
from wagate.errors import AppError, ErrorCode, not_found
from wagate.storage.base import utcnow

# Only so often is a key's last use written, so a busy key does not turn every
# request into a write.
_LAST_USED_RESOLUTION = timedelta(seconds=60)


_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]")


def normalize_username(username: str) -> str:
    """3-64 letters, digits, ``.``, ``_`` or ``-``, kept lower-case; never an
    ``@``, so a login name is either an email or a username, never both."""
    value = username.strip().lower()
    if not _USERNAME.fullmatch(value):
        raise AppError(
            ErrorCode.VALIDATION_ERROR,
            "username: 3-64 letters, digits, '.', '_' or '-', starting and ending "
            "with a letter or digit",
        )
    return value


def normalize_email(email: str) -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"email: {exc}") from exc


async def create_user(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    name: str | None = None,
    is_admin: bool = False,
    username: str | None = None,
) -> User:
    email = normalize_email(email)
    username = normalize_username(username) if username else None
    problem = passwords.password_problem(password, email)
    if problem:
        raise AppError(ErrorCode.VALIDATION_ERROR, problem)
    users = UserRepository(db)
    if await users.get_by_email(email) is not None:
        raise AppError(ErrorCode.USER_EXISTS, "A user with this email already exists")
    if username and await users.get_by_username(username) is not None:
        raise AppError(ErrorCode.USER_EXISTS, "A user with this username already exists")
    user = User(
        email=email,
        username=username,
        password_hash=await passwords.hash_password(password),
        name=name or None,
        is_admin=is_admin,
        plan="admin" if is_admin else "free",
    )
    return await users.create(user)


async def register(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    name: str | None,
    allow_registration: bool,
    username: str | None = None,
    ip_address: str | None = None,
) -> User:
    if not allow_registration:
        raise AppError(ErrorCode.REGISTRATION_CLOSED, "Registration is closed on this server")
    user = await create_user(db, email=email, password=password, name=name, username=username)
    await record_activity(db, user_id=user.id, action="user.register", ip_address=ip_address)
    return user


async def _user_by_login(users: UserRepository, login: str) -> User | None:
    """A login name is an email when it has an ``@``, else a username."""
    if "@" in login:
        try:
            email = normalize_email(login)
        except AppError:
            email = login.strip().lower()
        return await users.get_by_email(email)
    return await users.get_by_username(login.strip().lower())


async def authenticate(
    db: AsyncSession, *, login: str, password: str, ip_address: str | None = None
) -> User:
    """A user by email or username and password."""
    user = await _user_by_login(UserRepository(db), login)
    valid = await passwords.verify_password(password, user.password_hash if user else None)
    if user is None or not valid or not user.is_active:
        raise AppError(ErrorCode.INVALID_CREDENTIALS, "Invalid email or password")
    await record_activity(db, user_id=user.id, action="user.login", ip_address=ip_address)
    return user


def issue_token(user: User, *, secret: str, expires_minutes: int) -> str:
    return tokens.issue_token(user.id, secret, expires_minutes, user.credential_version)


async def user_from_token(db: AsyncSession, token: str, *, secret: str) -> User:
    """The active user a token was issued to, unless their password changed or
    they were deactivated since."""
    try:
        claims = tokens.read_token(token, secret)
    except tokens.TokenError as exc:
        raise AppError(ErrorCode.INVALID_TOKEN, str(exc)) from exc
    user = await credential_user(db, claims.user_id)
    if user is None or not user.is_active or user.credential_version != claims.credential_version:
        raise AppError(ErrorCode.INVALID_TOKEN, "Invalid token")
    return user


async def credential_user(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user a credential names, from the credential cache when one serves ``db``."""
    cache = credential_cache.of(db)
    if cache is None:
        return await UserRepository(db).get_by_id(user_id)
    return await cache.user(db, user_id)


async def active_owner(db: AsyncSession, user_id: uuid.UUID) -> User:
    """The owner of a key, who must still be active for the key to work."""
    user = await credential_user(db, user_id)
    if user is None or not user.is_active:
        raise AppError(ErrorCode.INVALID_API_KEY, "Invalid or inactive API key")
    return user


async def set_password(
    db: AsyncSession, user: User, password: str, *, ip_address: str | None = None
) -> User:
    """A new password, which ends every token issued before it."""
    problem = passwords.password_problem(password, user.email)
    if problem:
        raise AppError(ErrorCode.VALIDATION_ERROR, problem)
    user.password_hash = await passwords.hash_password(password)
    user.credential_version += 1
    await db.flush()
    await record_activity(db, user_id=user.id, action="user.password", ip_address=ip_address)
    return user


async def change_password(
    db: AsyncSession,
    user: User,
    *,
    current_password: str,
    new_password: str,
    ip_address: str | None = None,
) -> User:
    if not await passwords.verify_password(current_password, user.password_hash):
        raise AppError(ErrorCode.INVALID_CREDENTIALS, "The current password is not right")
    return await set_password(db, user, new_password, ip_address=ip_address)


async def list_users(db: AsyncSession) -> list[User]:
    return await UserRepository(db).list_all()


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await UserRepository(db).get_by_id(user_id)
    if user is None:
        raise not_found("User")
    return user


async def set_active(db: AsyncSession, user: User, active: bool, *, by: User | None = None) -> User:
    """Deactivate (every credential of the user stops at once: tokens, user keys,
    session keys, the dashboard login) or activate again. Tokens issued before a
    deactivation stay ended; keys work again, as they are the user's to revoke."""
    if by is not None and by.id == user.id and not active:
        raise AppError(ErrorCode.VALIDATION_ERROR, "You cannot deactivate yourself")
    if user.is_active != active:
        user.is_active = active
        if not active:
            user.credential_version += 1
        await db.flush()
        await record_activity(
            db,
            user_id=user.id,
            action="user.activate" if active else "user.deactivate",
            metadata={"by": str(by.id)} if by else None,
        )
    return user


async def user_by_email(db: AsyncSession, email: str) -> User:
    user = await UserRepository(db).get_by_email(normalize_email(email))
    if user is None:
        raise not_found("User")
    return user


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    raw: str


async def create_api_key(
    db: AsyncSession,
    user: User,
    *,
    name: str,
    expires_in_days: int | None = None,
    ip_address: str | None = None,
) -> IssuedKey:
    new = tokens.new_key(tokens.USER_KEY_PREFIX)
    now = utcnow()
    key = ApiKey(
        user_id=user.id,
        name=name,
        key_hash=new.hash,
        last_four=new.last_four,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    await ApiKeyRepository(db).create(key)
    await record_activity(
        db,
        user_id=user.id,
        action="apikey.create",
        metadata={"keyId": str(key.id), "name": key.name},
        ip_address=ip_address,
    )
    return IssuedKey(key=key, raw=new.raw)


async def list_api_keys(db: AsyncSession, user: User) -> list[ApiKey]:
    return await ApiKeyRepository(db).list_for(user.id)


async def revoke_api_key(
    db: AsyncSession, user: User, key_id: uuid.UUID, ip_address: str | None = None
) -> ApiKey:
    keys = ApiKeyRepository(db)
    key = await keys.get_for(user.id, key_id)
    if key is None:
        raise not_found("API key")
    await record_activity(
        db,
        user_id=user.id,
        action="apikey.revoke",
        metadata={"keyId": str(key.id)},
        ip_address=ip_address,
    )
    return await keys.update(key, {"is_active": False, "revoked_at": key.revoked_at or utcnow()})


async def user_for_api_key(db: AsyncSession, raw_key: str) -> User:
    """The owner of an active user key; marks the key used."""
    key_hash = tokens.hash_key(raw_key)
    cache = credential_cache.of(db)
    if cache is None:
        key = await ApiKeyRepository(db).get_by_hash(key_hash)
    else:
        key = await cache.user_key(db, key_hash)
    now = datetime.now(UTC)
    if (
        key is None
        or not tokens.same_hash(key.key_hash, key_hash)
        or not key.is_active
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        raise AppError(ErrorCode.INVALID_API_KEY, "Invalid or inactive API key")
    user = await active_owner(db, key.user_id)
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        if cache is not None:
            key = cache.attached(db, key)
        key.last_used_at = now
    return user


@dataclass(frozen=True, slots=True)
class AdminBootstrap:
    email: str
    generated_password: str | None


async def ensure_admin(
    db: AsyncSession, *, email: str, password: str | None, username: str | None = None
) -> AdminBootstrap | None:
    """Create the first admin when there is none. Returns what was created, once."""
    users = UserRepository(db)
    if await users.admin_exists():
        return None
    existing = await users.get_by_email(normalize_email(email))
    if existing is not None:
        existing.is_admin = True
        existing.plan = "admin"
        return AdminBootstrap(email=existing.email, generated_password=None)
    chosen = password or secrets.token_urlsafe(12)
    user = await create_user(
        db, email=email, password=chosen, name="Administrator", is_admin=True, username=username
    )
    return AdminBootstrap(email=user.email, generated_password=None if password else chosen)
