"""``/api/v1/admin/users``: an administrator lists, deactivates and activates users."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from wagate.auth import service
from wagate.auth.schemas import AdminUserData, AdminUserList, AdminUserOut
from wagate.deps import AdminUser, DbSession
from wagate.schemas import API_PREFIX, Envelope, ok

router = APIRouter(prefix=f"{API_PREFIX}/admin/users", tags=["admin"])


@router.get("")
async def list_users(db: DbSession, admin: AdminUser) -> Envelope[AdminUserList]:
    users = await service.list_users(db)
    return ok(AdminUserList(users=[AdminUserOut.of(user) for user in users]))


@router.post("/{user_id}/deactivate")
async def deactivate(
    user_id: uuid.UUID, db: DbSession, admin: AdminUser
) -> Envelope[AdminUserData]:
    user = await service.set_active(db, await service.get_user(db, user_id), False, by=admin)
    return ok(AdminUserData(user=AdminUserOut.of(user)))


@router.post("/{user_id}/activate")
async def activate(user_id: uuid.UUID, db: DbSession, admin: AdminUser) -> Envelope[AdminUserData]:
    user = await service.set_active(db, await service.get_user(db, user_id), True, by=admin)
    return ok(AdminUserData(user=AdminUserOut.of(user)))
