"""Queries for webhooks and their deliveries.

Reads for a user start from :meth:`WebhookRepository.owned_by`; the workers'
statements (relay, claims) act for the gateway itself and say so.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import AliasedClass

from wagate.auth.models import User
from wagate.storage.base import UTCDateTime
from wagate.storage.db import wake_on_commit
from wagate.storage.repository import RepositoryBase
from wagate.webhooks.models import (
    DeliveryStatus,
    RelayCursor,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

Moment = datetime | BindParameter[datetime]


def _due(
    delivery: type[WebhookDelivery] | AliasedClass[WebhookDelivery], now: Moment
) -> ColumnElement[bool]:
    """Waiting and its time has come, or claimed by an attempt whose lease lapsed."""
    return or_(
        and_(
            delivery.status == DeliveryStatus.PENDING.value,
            delivery.next_attempt_at <= now,
        ),
        and_(
            delivery.status == DeliveryStatus.DELIVERING.value,
            delivery.lease_until < now,
        ),
    )


# The database's signal that wakes the dispatcher: deliveries became due.
DELIVERIES_TOPIC = "webhook_deliveries"


def deliveries_due_on_commit(db: AsyncSession) -> None:
    """Wake the dispatcher once this transaction (new or hurried deliveries) commits."""
    wake_on_commit(db, DELIVERIES_TOPIC)


class ClaimedRow(NamedTuple):
    id: uuid.UUID
    webhook_id: uuid.UUID
    attempt: int
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    event_seq: int


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

    async def by_ids_with_owner(
        self, webhook_ids: Iterable[uuid.UUID]
    ) -> list[tuple[Webhook, bool]]:
        """Each webhook and whether its owner is an administrator (whose URLs
        reach further). Unscoped: for the dispatcher, which acts for the gateway."""
        statement = (
            select(Webhook, User.is_admin)
            .join(User, User.id == Webhook.user_id)
            .where(Webhook.id.in_(list(webhook_ids)))
        )
        return [
            (webhook, bool(admin))
            for webhook, admin in (await self.session.execute(statement)).all()
        ]

    async def active_for(
        self, session_ids: Iterable[uuid.UUID], user_ids: Iterable[uuid.UUID]
    ) -> list[Webhook]:
        """The active webhooks of these sessions, and the user-level ones (no
        session) of these users. Unscoped: for the relay, which fans events out."""
        sessions, users = list(session_ids), list(user_ids)
        statement = self.base_statement().where(
            or_(
                Webhook.session_id.in_(sessions),
                and_(Webhook.session_id.is_(None), Webhook.user_id.in_(users)),
            ),
            Webhook.is_active.is_(True),
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
        """Make a webhook's waiting deliveries due now (it was enabled again, or
        came back after it was down): they go out in order from the oldest."""
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
    def _next_of_its_webhook(now: Moment) -> ColumnElement[bool]:
        """A delivery is its webhook's next when no older one is due and none is
        in flight: each webhook gets one request at a time, oldest due first, so
        a healthy endpoint sees its events in order while a failed one waits for
        its own retry without holding the others back."""
        other = aliased(WebhookDelivery)
        older_due = exists().where(
            other.webhook_id == WebhookDelivery.webhook_id,
            other.event_seq < WebhookDelivery.event_seq,
            _due(other, now),
        )
        in_flight = exists().where(
            other.webhook_id == WebhookDelivery.webhook_id,
            other.status == DeliveryStatus.DELIVERING.value,
            other.lease_until >= now,
        )
        return and_(~older_due, ~in_flight)

    @staticmethod
    def _not_held(now: Moment) -> ColumnElement[bool]:
        return or_(Webhook.hold_until.is_(None), Webhook.hold_until <= now)

    async def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        skip_locked: bool,
    ) -> list[ClaimedRow]:
        """Take the next delivery of up to ``limit`` active, unheld webhooks whose
        time has come (or whose previous claim lapsed: its process died mid-attempt).

        One UPDATE, so on SQLite the choice and the claim happen under one write
        lock; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets other dispatchers
        pass over rows being claimed instead of waiting for them.
        """
        statement = _statements().claim_due[skip_locked]
        return await self._claimed(statement, now=now, lease_end=lease_until, limit=limit)

    async def claim_next(
        self, webhook_id: uuid.UUID, now: datetime, lease_until: datetime
    ) -> ClaimedRow | None:
        """Take one webhook's next delivery, if one is due: what a worker does
        after an attempt. (No SKIP LOCKED here: skipping a locked row would take
        the one behind it, out of order. The due check, made again on the row
        after any concurrent claim commits, keeps it single.)"""
        claimed = await self._claimed(
            _statements().claim_next, now=now, lease_end=lease_until, for_webhook=webhook_id
        )
        return claimed[0] if claimed else None

    async def claim_followers(
        self, head: ClaimedRow, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedRow]:
        """Take up to ``limit`` more due deliveries of ``head``'s webhook, the
        next ones after it in order, to be sent one at a time after it.

        Call it in the transaction that claimed ``head``: while the head is
        claimed (in flight) nobody else takes any delivery of its webhook, so
        these are the webhook's next ones as surely as the head was. A due
        delivery older than the head cannot exist (the head was the oldest)."""
        if limit <= 0:
            return []
        claimed = await self._claimed(
            _statements().claim_followers,
            now=now,
            lease_end=lease_until,
            for_webhook=head.webhook_id,
            after_seq=head.event_seq,
            limit=limit,
        )
        return sorted(claimed, key=lambda row: row.event_seq)

    async def _claimed(self, statement: Update, **values: Any) -> list[ClaimedRow]:
        result = await self.session.execute(statement, values)
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

    async def release_unsent(self, rows: Sequence[ClaimedRow], now: datetime) -> None:
        """Hand back claims that were never attempted (the rest of a batch after
        the webhook was held, or its lease ran short): due again at once, and
        their claim does not count as an attempt. A claim that lapsed and was
        taken again by someone else is left alone."""
        if not rows:
            return
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                tuple_(WebhookDelivery.id, WebhookDelivery.attempts).in_(
                    [(row.id, row.attempt) for row in rows]
                ),
                WebhookDelivery.status == DeliveryStatus.DELIVERING.value,
            )
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                lease_until=None,
                attempts=WebhookDelivery.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )

    async def next_due_at(self, now: datetime) -> datetime | None:
        """When the earliest waiting delivery of an active webhook with nothing
        in flight is due, counting its webhook's hold."""
        value: datetime | None = await self.session.scalar(_statements().next_due_at, {"now": now})
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


class _Statements(NamedTuple):
    claim_due: dict[bool, Update]  # by skip_locked
    claim_next: Update
    claim_followers: Update
    next_due_at: Select[tuple[datetime | None]]


@functools.cache
def _statements() -> _Statements:
    """The dispatcher's statements, built once with their values as bound
    parameters (``now``, ``lease_end``, ``limit``, ``for_webhook``,
    ``after_seq``): they run on every pass and after every batch, and building
    them (aliases, EXISTS clauses) cost more than running them."""
    now = bindparam("now", type_=UTCDateTime())
    limit = bindparam("limit", type_=Integer())
    webhook_id = bindparam("for_webhook", type_=WebhookDelivery.webhook_id.type)
    event_seq_type = WebhookDelivery.event_seq.type
    next_of_its_webhook = DeliveryRepository._next_of_its_webhook(now)

    def take(which: ColumnElement[bool]) -> Update:
        return (
            update(WebhookDelivery)
            .where(which, _due(WebhookDelivery, now))
            .values(
                status=DeliveryStatus.DELIVERING.value,
                lease_until=bindparam("lease_end", type_=UTCDateTime()),
                attempts=WebhookDelivery.attempts + 1,
            )
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.webhook_id,
                WebhookDelivery.attempts,
                WebhookDelivery.event_id,
                WebhookDelivery.event_type,
                WebhookDelivery.payload,
                WebhookDelivery.event_seq,
            )
            .execution_options(synchronize_session=False)
        )

    # Due deliveries of active, unheld webhooks, each its webhook's next.
    chosen = (
        select(WebhookDelivery.id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            Webhook.is_active.is_(True),
            DeliveryRepository._not_held(now),
            _due(WebhookDelivery, now),
            next_of_its_webhook,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.event_seq)
        .limit(limit)
    )
    locked = chosen.with_for_update(of=WebhookDelivery, skip_locked=True)
    claim_due = {
        False: take(WebhookDelivery.id.in_(chosen.scalar_subquery())),
        True: take(WebhookDelivery.id.in_(locked.scalar_subquery())),
    }
    following = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.webhook_id == webhook_id,
            _due(WebhookDelivery, now),
            next_of_its_webhook,
        )
        .order_by(WebhookDelivery.event_seq)
        .limit(1)
    )
    followers = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.webhook_id == webhook_id,
            WebhookDelivery.event_seq > bindparam("after_seq", type_=event_seq_type),
            _due(WebhookDelivery, now),
        )
        .order_by(WebhookDelivery.event_seq)
        .limit(limit)
    )
    due_at = case(
        (Webhook.hold_until > WebhookDelivery.next_attempt_at, Webhook.hold_until),
        else_=WebhookDelivery.next_attempt_at,
    )
    next_due_at = (
        select(func.min(due_at))
        .select_from(WebhookDelivery)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            Webhook.is_active.is_(True),
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            next_of_its_webhook,
        )
    )
    return _Statements(
        claim_due=claim_due,
        claim_next=take(WebhookDelivery.id == following.scalar_subquery()),
        claim_followers=take(WebhookDelivery.id.in_(followers.scalar_subquery())),
        next_due_at=next_due_at,
    )
