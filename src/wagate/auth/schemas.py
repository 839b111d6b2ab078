from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field, model_validator

from wagate.auth.models import User
from wagate.schemas import ApiDateTime, RequestModel


class RegisterRequest(RequestModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    name: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=64)


class LoginRequest(RequestModel):
    """``email`` may hold a username, and ``username`` may be sent instead."""

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="before")
    @classmethod
    def _username_as_email(cls, data: Any) -> Any:
        if isinstance(data, dict) and "email" not in data and "username" in data:
            return {**data, "email": data["username"]}
        return data


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str | None
    plan: str


class UserDetail(UserOut):
    is_admin: bool
    created_at: ApiDateTime


class AuthData(BaseModel):
    token: str
    user: UserOut


class MeData(BaseModel):
    user: UserDetail


class CreateApiKeyRequest(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    expiresInDays: int | None = Field(default=None, ge=1, le=3650)


class CreatedApiKey(BaseModel):
    id: uuid.UUID
    name: str
    key: str
    lastFour: str
    createdAt: ApiDateTime
    expiresAt: ApiDateTime | None


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    last_four: str
    is_active: bool
    created_at: ApiDateTime
    last_used_at: ApiDateTime | None
    expires_at: ApiDateTime | None


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut]


class ChangePasswordRequest(RequestModel):
    currentPassword: str = Field(min_length=1, max_length=1024)
    newPassword: str = Field(min_length=1, max_length=1024)


class AdminUserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str | None
    plan: str
    isAdmin: bool
    isActive: bool
    createdAt: ApiDateTime

    @classmethod
    def of(cls, user: User) -> AdminUserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            plan=user.plan,
            isAdmin=user.is_admin,
            isActive=user.is_active,
            createdAt=user.created_at,
        )


class AdminUserData(BaseModel):
    user: AdminUserOut


class AdminUserList(BaseModel):
    users: list[AdminUserOut]
