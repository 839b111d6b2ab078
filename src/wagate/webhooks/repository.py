"""Queries for webhooks and their deliveries.

Reads for a user start from :meth:`WebhookRepository.owned_by`; the workers'
statements (relay, claims) act for the gateway itself and say so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from wagate.storage.repository import RepositoryBase
from wagate.webhooks.models import (
    DeliveryStatus,
    RelayCursor,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

UNFINISHED = (DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value)


class ClaimedRow(NamedTuple):
    id: uuid.UUID
    webhook_id: uuid.UUID
    attempt: int
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]


class WebhookRepository(RepositoryBase[Webhook]):
    model = Webhook

    def owned_by(self, user_id: uuid.UUID) -> Select[Webhook]:
        """Every read of a user's webhooks starts here."""
        return self.base_statement().where(Webhook.user_id == user_id)

    async def get_for(self, user_id: uuid.UUID, webhook_id: uuid.UUID) -> Webhook | None:
        return await self.get_one_or_none(self.owned_by(user_id).where(Webhook.id == webhook_id))

    async def list_for(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None = None
    ) -> list[Webhook]:
        statement = self.owned_by(user_id).order_by(Webhook.created_at)
        if session_id is not None:
            statement = statement.where(Webhook.session_id == session_id)
        return list(await self.get_all(statement))

    async def by_ids(self, webhook_ids: Iterable[uuid.UUID]) -> list[Webhook]:
        """Unscoped: for the dispatcher, which acts for the gateway, not for a user."""
        return list(
            await self.get_all(self.base_statement().where(Webhook.id.in_(list(webhook_ids))))
        )

    async def active_for_sessions(self, session_ids: Iterable[uuid.UUID]) -> list[Webhook]:
        """Unscoped: for the relay, which fans each session's events out."""
        statement = self.base_statement().where(
            Webhook.session_id.in_(list(session_ids)), Webhook.is_active.is_(True)
        )
        return list(await self.get_all(statement))


class DeliveryRepository(RepositoryBase[WebhookDelivery]):
    model = WebhookDelivery

    def of_webhook(self, webhook: Webhook) -> Select[WebhookDelivery]:
        """A webhook's deliveries; the webhook itself was read through ``owned_by``."""
        return self.base_statement().where(
            WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.user_id == webhook.user_id
        )

    async def list_for(
        self, webhook: Webhook, *, status: str | None, limit: int
    ) -> list[WebhookDelivery]:
        statement = self.of_webhook(webhook).order_by(WebhookDelivery.event_seq.desc()).limit(limit)
        if status is not None:
            statement = statement.where(WebhookDelivery.status == status)
        return list(await self.get_all(statement))

    async def get_for(self, webhook: Webhook, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        return await self.get_one_or_none(
            self.of_webhook(webhook).where(WebhookDelivery.id == delivery_id)
        )

    async def attempts_of(self, delivery_ids: Sequence[uuid.UUID]) -> list[WebhookAttempt]:
        statement = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.attempt)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def hurry_pending(self, webhook_id: uuid.UUID, now: datetime) -> None:
        """Make a webhook's waiting deliveries due now (it was enabled again)."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
            )
            .values(next_attempt_at=now)
        )

    # -- the dispatcher's statements (unscoped: they act for the gateway) ----

    @staticmethod
    def _heads() -> ColumnElement[bool]:
        """A delivery is its webhook's head when no older one is unfinished:
        only heads are attempted, which keeps each webhook's events in order."""
        earlier = aliased(WebhookDelivery)
        return ~exists().where(
            earlier.webhook_id == WebhookDelivery.webhook_id,
            earlier.status.in_(UNFINISHED),
            earlier.event_seq < WebhookDelivery.event_seq,
        )

    async def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        skip_locked: bool,
    ) -> list[ClaimedRow]:
        """Take up to ``limit`` heads of active webhooks whose time has come (or
        whose previous claim lapsed: its process died mid-attempt).

        One UPDATE, so on SQLite the choice and the claim happen under one write
        lock; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets other dispatchers
        pass over rows being claimed instead of waiting for them.
        """
        due = self._due(now)
        chosen = (
            select(WebhookDelivery.id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(Webhook.is_active.is_(True), due, self._heads())
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.event_seq)
            .limit(limit)
        )
        if skip_locked:
            chosen = chosen.with_for_update(of=WebhookDelivery, skip_locked=True)
        return await self._take(WebhookDelivery.id.in_(chosen.scalar_subquery()), now, lease_until)

    async def claim_head(
        self, webhook_id: uuid.UUID, now: datetime, lease_until: datetime
    ) -> ClaimedRow | None:
        """Take one webhook's oldest unfinished delivery, if it is due: what a
        worker does next. (No SKIP LOCKED here: skipping a locked head would
        take the one behind it, out of order. The due check, made again on
        the row after any concurrent claim commits, keeps it single.)"""
        head = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.status.in_(UNFINISHED),
            )
            .order_by(WebhookDelivery.event_seq)
            .limit(1)
        )
        claimed = await self._take(WebhookDelivery.id == head.scalar_subquery(), now, lease_until)
        return claimed[0] if claimed else None

    @staticmethod
    def _due(now: datetime) -> ColumnElement[bool]:
        return or_(
            and_(
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                WebhookDelivery.next_attempt_at <= now,
            ),
            and_(
                WebhookDelivery.status == DeliveryStatus.DELIVERING.value,
                WebhookDelivery.lease_until < now,
            ),
        )

    async def _take(
        self, which: ColumnElement[bool], now: datetime, lease_until: datetime
    ) -> list[ClaimedRow]:
        statement = (
            update(WebhookDelivery)
            .where(which, self._due(now))
            .values(
                status=DeliveryStatus.DELIVERING.value,
                lease_until=lease_until,
                attempts=WebhookDelivery.attempts + 1,
            )
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.webhook_id,
                WebhookDelivery.attempts,
                WebhookDelivery.event_id,
                WebhookDelivery.event_type,
                WebhookDelivery.payload,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return [ClaimedRow(*row) for row in result.all()]

    async def release(self, delivery_ids: Sequence[uuid.UUID], now: datetime) -> None:
        """Hand back claims whose attempts were cut short by a shut-down."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(list(delivery_ids)),
                WebhookDelivery.status == DeliveryStatus.DELIVERING.value,
            )
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    async def next_due_at(self) -> datetime | None:
        """When the earliest waiting head of an active webhook is due."""
        statement = (
            select(func.min(WebhookDelivery.next_attempt_at))
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(
                Webhook.is_active.is_(True),
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                self._heads(),
            )
        )
        value: datetime | None = await self.session.scalar(statement)
        return value


class CursorRepository(RepositoryBase[RelayCursor]):
    model = RelayCursor

    async def get(self, name: str, *, for_update: bool) -> RelayCursor | None:
        statement = self.base_statement().where(RelayCursor.name == name)
        if for_update:
            statement = statement.with_for_update()
        return await self.get_one_or_none(statement)

    async def advance(self, name: str, old: int, new: int) -> bool:
        """Move the cursor only if nobody else moved it since it was read."""
        result = await self.session.execute(
            update(RelayCursor)
            .where(RelayCursor.name == name, RelayCursor.last_seq == old)
            .values(last_seq=new)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)
