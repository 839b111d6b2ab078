"""Usage counters, written in the transaction of the change they count.

``add()`` only notes an increment on the DB session; just before that session
commits, all its increments are written as one upsert per counter row
(``INSERT … ON CONFLICT DO UPDATE SET n = n + k``). Writing them last, in a
fixed order, matters on PostgreSQL: the upsert locks the counter row until the
commit, and a row lock taken in the middle of a transaction (say, between two
messages of a send batch) could deadlock with a receipt that locked those
messages in the other order. Taken last, nobody holding a counter row waits for
anything else. A rollback simply drops the notes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from wagate.analytics.models import USAGE_FIELDS, UsageCounter
from wagate.storage.base import utcnow
from wagate.storage.db import upsert_insert, will_write

_PENDING = "wagate_usage_pending"

CounterKey = tuple[uuid.UUID, date, uuid.UUID]  # user, day, session: the row's primary key


def today() -> date:
    return utcnow().date()


def add(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    counts: dict[str, int],
    day: date | None = None,
) -> None:
    """Count ``counts`` (``{"sent": 1}``) for a session and day, on commit."""
    unknown = set(counts) - set(USAGE_FIELDS)
    if unknown:
        raise ValueError(f"unknown usage counters: {sorted(unknown)}")
    pending: dict[CounterKey, Counter[str]] = db.info.setdefault(_PENDING, {})
    pending.setdefault((user_id, day or today(), session_id), Counter()).update(counts)
    will_write(db)  # written at the commit: the unit of work must commit


def upsert(dialect: str, key: CounterKey, counts: dict[str, int]) -> Any:
    """``INSERT … ON CONFLICT (user_id, day, session_id) DO UPDATE SET n = n + k``."""
    user_id, day, session_id = key
    values = {field: counts.get(field, 0) for field in USAGE_FIELDS}
    insert = upsert_insert(dialect)
    statement = insert(UsageCounter).values(
        user_id=user_id, day=day, session_id=session_id, **values
    )
    table = UsageCounter.__table__.c
    return statement.on_conflict_do_update(
        index_elements=[table.user_id, table.day, table.session_id],
        set_={field: table[field] + statement.excluded[field] for field in counts if counts[field]},
    )


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: dict[CounterKey, Counter[str]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    # Flush the ORM's own changes first, so the counter rows are the very last
    # rows this transaction locks.
    session.flush()
    dialect = session.get_bind().dialect.name
    for key in sorted(pending):  # one order for every transaction: no lock cycles
        counts = {field: n for field, n in pending[key].items() if n}
        if counts:
            session.execute(upsert(dialect, key, counts))


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
