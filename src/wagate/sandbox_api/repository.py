"""Queries of sandbox phone ownership."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.sandbox_api.models import SandboxPhoneOwner


async def owner_of(db: AsyncSession, number: str) -> uuid.UUID | None:
    row = await db.get(SandboxPhoneOwner, number)
    return row.user_id if row else None


async def numbers_of(db: AsyncSession, user_id: uuid.UUID) -> set[str]:
    statement = select(SandboxPhoneOwner.number).where(SandboxPhoneOwner.user_id == user_id)
    return set((await db.execute(statement)).scalars().all())


async def claim(db: AsyncSession, number: str, user_id: uuid.UUID) -> None:
    db.add(SandboxPhoneOwner(number=number, user_id=user_id))
    await db.flush()


async def release(db: AsyncSession, number: str) -> None:
    row = await db.get(SandboxPhoneOwner, number)
    if row is not None:
        await db.delete(row)
        await db.flush()
