from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, model_validator

from wagate.schemas import ApiDateTime, RequestModel


class RegisterRequest(RequestModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    name: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=64)


class LoginRequest(RequestModel):
    """``email`` may hold a username, and ``username`` may be sent instead."""

    email: str | None = Field(default=None, min_length=1, max_length=320)
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _one_login_name(self) -> LoginRequest:
        if not (self.email or self.username):
            raise ValueError("email (or username) is required")
        return self

    @property
    def login(self) -> str:
        return self.email or self.username or ""


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
