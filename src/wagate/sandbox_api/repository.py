"""Queries of sandbox phone ownership."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.sandbox_api.models import SandboxPhoneOwner
from wagate.storage.base import utcnow
from wagate.storage.db import upsert_insert


async def owner_of(db: AsyncSession, number: str) -> uuid.UUID | None:
    row = await db.get(SandboxPhoneOwner, number)
    return row.user_id if row else None


async def numbers_of(db: AsyncSession, user_id: uuid.UUID) -> set[str]:
    statement = select(SandboxPhoneOwner.number).where(SandboxPhoneOwner.user_id == user_id)
    return set((await db.execute(statement)).scalars().all())


async def claim(db: AsyncSession, number: str, user_id: uuid.UUID) -> uuid.UUID:
    """Give ``number`` to ``user_id`` unless someone has it; returns its owner.

    An insert that does nothing on conflict waits for a concurrent claim to
    commit, so parallel claims of one number never fail on the primary key.
    """
    insert = upsert_insert(db.get_bind().dialect.name)
    await db.execute(
        insert(SandboxPhoneOwner)
        .values(number=number, user_id=user_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["number"])
    )
    owner = await db.scalar(
        select(SandboxPhoneOwner.user_id).where(SandboxPhoneOwner.number == number)
    )
    assert owner is not None
    return owner


async def release(db: AsyncSession, number: str) -> None:
    row = await db.get(SandboxPhoneOwner, number)
    if row is not None:
        await db.delete(row)
        await db.flush()
