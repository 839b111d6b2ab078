"""A small generic repository; a domain's repository adds only its own statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.storage.base import Base

M = TypeVar("M", bound=Base)


class RepositoryBase(Generic[M]):
    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def base_statement(self) -> Select[M]:
        return select(self.model)

    async def get_one_or_none(self, statement: Select[M]) -> M | None:
        result = await self.session.execute(statement.limit(1))
        return result.scalars().first()

    async def get_all(self, statement: Select[M]) -> Sequence[M]:
        result = await self.session.execute(statement)
        return result.scalars().all()

    async def count(self, statement: Select[M]) -> int:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        return int((await self.session.execute(counted)).scalar_one())

    async def create(self, instance: M, *, flush: bool = True) -> M:
        self.session.add(instance)
        if flush:
            await self.session.flush()
        return instance

    async def update(self, instance: M, values: dict[str, Any], *, flush: bool = True) -> M:
        for key, value in values.items():
            setattr(instance, key, value)
        if flush:
            await self.session.flush()
        return instance

    async def delete(self, instance: M, *, flush: bool = True) -> None:
        await self.session.delete(instance)
        if flush:
            await self.session.flush()
