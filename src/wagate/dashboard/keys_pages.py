"""User API keys: create one (shown once), list them, revoke one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from wagate.auth import service as auth_service
from wagate.auth.models import User
from wagate.dashboard.web import PageRoute, PageUser, check_csrf, redirect, render
from wagate.deps import ClientAddress, DbSession, parse_id
from wagate.errors import AppError, ErrorCode

router = APIRouter(
    prefix="/dashboard/api-keys",
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)

MAX_DAYS = 3650


async def _page(
    request: Request, db: DbSession, user: User, extra: dict[str, Any] | None = None
) -> Response:
    keys = await auth_service.list_api_keys(db, user)
    context = {"title": "API keys", "nav": "keys", "keys": keys, **(extra or {})}
    return render(request, "api_keys.html", context)


@router.get("")
async def keys_page(request: Request, db: DbSession, user: PageUser) -> Response:
    return await _page(request, db, user)


@router.post("")
async def create_key(
    request: Request,
    db: DbSession,
    user: PageUser,
    ip: ClientAddress,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    expires_in_days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    issued = await auth_service.create_api_key(
        db, user, name=name.strip(), expires_in_days=_days(expires_in_days), ip_address=ip
    )
    revealed = {
        "title": f"API key “{issued.key.name}” created",
        "lead": "It is shown only this once: copy it now. Send it as x-api-key, "
        "with x-session-id naming the session to act for.",
        "key": issued.raw,
    }
    return await _page(request, db, user, {"revealed": revealed})


def _days(value: str) -> int | None:
    """An empty number field means "never expires"."""
    if not value.strip():
        return None
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"Expiry: a number of days from 1 to {MAX_DAYS}")
    return int(value)


@router.post("/{key_id}/revoke")
async def revoke_key(
    request: Request, db: DbSession, user: PageUser, ip: ClientAddress, key_id: str
) -> Response:
    key = await auth_service.revoke_api_key(db, user, parse_id(key_id, "API key"), ip_address=ip)
    return redirect(request, "/dashboard/api-keys", f"“{key.name}” was revoked")
