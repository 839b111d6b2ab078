from __future__ import annotations

import uuid

from fastapi import APIRouter

from wagate.auth import service
from wagate.auth.schemas import (
    ApiKeyList,
    ApiKeyOut,
    AuthData,
    ChangePasswordRequest,
    CreateApiKeyRequest,
    CreatedApiKey,
    LoginRequest,
    MeData,
    RegisterRequest,
    UserDetail,
    UserOut,
)
from wagate.deps import ClientAddress, CurrentUser, DbSession, SettingsDep, UserByTokenOrKey
from wagate.schemas import API_PREFIX, Envelope, MessageEnvelope, ok

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


@router.post("/register", status_code=201)
async def register(
    body: RegisterRequest, db: DbSession, settings: SettingsDep, ip: ClientAddress
) -> Envelope[AuthData]:
    user = await service.register(
        db,
        email=body.email,
        password=body.password,
        name=body.name,
        username=body.username,
        allow_registration=settings.allow_registration,
        ip_address=ip,
    )
    token = service.issue_token(
        user, secret=settings.resolved_secret_key, expires_minutes=settings.jwt_expires_minutes
    )
    return ok(AuthData(token=token, user=UserOut.model_validate(user, from_attributes=True)))


@router.post("/login")
async def login(
    body: LoginRequest, db: DbSession, settings: SettingsDep, ip: ClientAddress
) -> Envelope[AuthData]:
    user = await service.authenticate(db, login=body.email, password=body.password, ip_address=ip)
    token = service.issue_token(
        user, secret=settings.resolved_secret_key, expires_minutes=settings.jwt_expires_minutes
    )
    return ok(AuthData(token=token, user=UserOut.model_validate(user, from_attributes=True)))


@router.post("/password")
async def change_password(
    body: ChangePasswordRequest,
    db: DbSession,
    user: CurrentUser,
    settings: SettingsDep,
    ip: ClientAddress,
) -> Envelope[AuthData]:
    """A new password ends every token issued before it; the answer carries a fresh one."""
    user = await service.change_password(
        db,
        user,
        current_password=body.currentPassword,
        new_password=body.newPassword,
        ip_address=ip,
    )
    token = service.issue_token(
        user, secret=settings.resolved_secret_key, expires_minutes=settings.jwt_expires_minutes
    )
    return ok(AuthData(token=token, user=UserOut.model_validate(user, from_attributes=True)))


@router.get("/me")
async def me(user: UserByTokenOrKey) -> Envelope[MeData]:
    return ok(MeData(user=UserDetail.model_validate(user, from_attributes=True)))


@router.post("/api-keys", status_code=201)
async def create_api_key(
    body: CreateApiKeyRequest, db: DbSession, user: CurrentUser, ip: ClientAddress
) -> Envelope[CreatedApiKey]:
    issued = await service.create_api_key(
        db, user, name=body.name, expires_in_days=body.expiresInDays, ip_address=ip
    )
    return ok(
        CreatedApiKey(
            id=issued.key.id,
            name=issued.key.name,
            key=issued.raw,
            lastFour=issued.key.last_four,
            createdAt=issued.key.created_at,
            expiresAt=issued.key.expires_at,
        )
    )


@router.get("/api-keys")
async def list_api_keys(db: DbSession, user: CurrentUser) -> Envelope[ApiKeyList]:
    keys = await service.list_api_keys(db, user)
    return ok(ApiKeyList(keys=[ApiKeyOut.model_validate(k, from_attributes=True) for k in keys]))


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(
    key_id: uuid.UUID, db: DbSession, user: CurrentUser, ip: ClientAddress
) -> MessageEnvelope:
    await service.revoke_api_key(db, user, key_id, ip_address=ip)
    return MessageEnvelope(message="API key revoked")
