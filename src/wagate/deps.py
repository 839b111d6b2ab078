"""Dependencies as named types: ``async def endpoint(db: DbSession, user: CurrentUser)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth import service as auth_service
from wagate.auth.models import User
from wagate.config import Settings
from wagate.errors import AppError, ErrorCode
from wagate.storage.db import Database, run_after_commit


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request is the unit of work: commit after the endpoint returns and
    before the response is sent, or roll back on error; then start background work."""
    database = get_database(request)
    async with database.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        await run_after_commit(session)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def get_current_user(request: Request, db: DbSession, settings: SettingsDep) -> User:
    token = bearer_token(request)
    if token is None:
        raise AppError(ErrorCode.NO_TOKEN, "Authentication token missing")
    user = await auth_service.user_from_token(db, token, secret=settings.resolved_secret_key)
    request.state.user_id = str(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AppError(ErrorCode.FORBIDDEN, "Administrator rights are required")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_user_by_token_or_key(request: Request, db: DbSession, settings: SettingsDep) -> User:
    """A person (Bearer JWT) or their software (a stable user API key in ``x-api-key``)."""
    raw_key = request.headers.get("x-api-key")
    if raw_key and bearer_token(request) is None:
        user = await auth_service.user_for_api_key(db, raw_key)
        request.state.user_id = str(user.id)
        return user
    return await get_current_user(request, db, settings)


UserByTokenOrKey = Annotated[User, Depends(get_user_by_token_or_key)]
