"""Contacts a user broadcasts to: CRUD, tags, custom fields, opt-out, and CSV
import and export. Services take a DB session and plain values; never commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import Table, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.campaigns import phones
from wagate.campaigns.csv_import import Record, csv_text, records
from wagate.campaigns.models import BroadcastContact
from wagate.campaigns.repository import ContactRepository
from wagate.errors import AppError, ErrorCode, not_found
from wagate.storage.base import utcnow
from wagate.storage.db import Database

T = TypeVar("T")

CONTACTS_TABLE = cast(Table, BroadcastContact.__table__)
PHONE_COLUMNS = {"phone", "phonenumber", "phone_number", "number", "mobile", "whatsapp"}
NAME_COLUMNS = {"name", "fullname", "full_name"}
TAG_COLUMNS = {"tags", "tag"}
# Rejections listed in an import report; the count covers them all.
MAX_REPORTED_REJECTIONS = 1000


def _validation(message: str) -> AppError:
    return AppError(ErrorCode.VALIDATION_ERROR, message)


def clean_tags(tags: Sequence[str]) -> list[str]:
    """Stripped, lower-cased, without duplicates, in their first order."""
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = tag.strip().lower()
        if cleaned and '"' not in cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def split_tags(value: str) -> list[str]:
    return clean_tags(value.replace(";", ",").replace("|", ",").split(","))


def _phone(raw: str, region: str) -> tuple[str, str]:
    try:
        return phones.normalize(raw, region)
    except phones.InvalidPhoneError as exc:
        raise _validation(f"phone: {exc}") from None


async def get(db: AsyncSession, user: User, contact_id: uuid.UUID) -> BroadcastContact:
    contact = await ContactRepository(db).get(user.id, contact_id)
    if contact is None:
        raise not_found("Contact")
    return contact


async def create(
    db: AsyncSession,
    user: User,
    *,
    phone: str,
    region: str,
    name: str | None = None,
    tags: Sequence[str] = (),
    fields: dict[str, Any] | None = None,
    opted_out: bool = False,
) -> BroadcastContact:
    digits, jid = _phone(phone, region)
    repository = ContactRepository(db)
    if await repository.by_jid(user.id, jid) is not None:
        raise AppError(ErrorCode.CONFLICT, f"A contact with phone +{digits} exists")
    contact = BroadcastContact(
        user_id=user.id,
        jid=jid,
        phone=digits,
        name=name,
        tags=clean_tags(tags),
        fields=dict(fields or {}),
        opted_out=opted_out,
        opted_out_at=utcnow() if opted_out else None,
    )
    try:
        async with db.begin_nested():
            return await repository.create(contact)
    except IntegrityError:  # created meanwhile by another request
        raise AppError(ErrorCode.CONFLICT, f"A contact with phone +{digits} exists") from None


async def update_contact(
    db: AsyncSession, user: User, contact_id: uuid.UUID, values: dict[str, Any], region: str
) -> BroadcastContact:
    """``values``: only the fields a client sent (phone, name, tags, fields, opted_out)."""
    contact = await get(db, user, contact_id)
    changes: dict[str, Any] = {}
    if "phone" in values:
        digits, jid = _phone(values["phone"], region)
        other = await ContactRepository(db).by_jid(user.id, jid)
        if other is not None and other.id != contact.id:
            raise AppError(ErrorCode.CONFLICT, f"A contact with phone +{digits} exists")
        changes.update(phone=digits, jid=jid)
    if "name" in values:
        changes["name"] = values["name"]
    if "tags" in values:
        changes["tags"] = clean_tags(values["tags"] or [])
    if "fields" in values:
        changes["fields"] = dict(values["fields"] or {})
    if "opted_out" in values and values["opted_out"] != contact.opted_out:
        changes["opted_out"] = bool(values["opted_out"])
        changes["opted_out_at"] = utcnow() if values["opted_out"] else None
    return await ContactRepository(db).update(contact, changes)


async def delete(db: AsyncSession, user: User, contact_id: uuid.UUID) -> None:
    await ContactRepository(db).delete(await get(db, user, contact_id))


async def page(
    db: AsyncSession,
    user: User,
    *,
    tags: Sequence[str] = (),
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[BroadcastContact], int]:
    repository = ContactRepository(db)
    statement = repository.filtered(user.id, tags=clean_tags(tags), search=search)
    total = await repository.count(statement)
    ordered = statement.order_by(*ContactRepository.ORDER)
    return await repository.get_all(ordered.limit(limit).offset(offset)), total


async def opt_out(db: AsyncSession, user_id: uuid.UUID, jid: str) -> bool:
    """Mark the user's contact with ``jid`` opted out; False when none matches."""
    result = await db.execute(
        update(BroadcastContact)
        .where(
            BroadcastContact.user_id == user_id,
            BroadcastContact.jid == jid,
            BroadcastContact.opted_out.is_(False),
        )
        .values(opted_out=True, opted_out_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


# -- CSV import ------------------------------------------------------------


@dataclass(slots=True)
class Rejection:
    line: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    updated: int = 0
    rejected_count: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED_REJECTIONS:
            self.rejected.append(Rejection(line, reason))


@dataclass(frozen=True, slots=True)
class Columns:
    phone: int
    name: int | None
    tags: int | None
    fields: dict[int, str]

    @classmethod
    def of(cls, header: list[str]) -> Columns:
        keys = [column.strip() for column in header]
        lowered = [key.lower().replace(" ", "_") for key in keys]

        def find(names: set[str]) -> int | None:
            return next((i for i, key in enumerate(lowered) if key in names), None)

        phone = find(PHONE_COLUMNS)
        if phone is None:
            raise _validation(
                "CSV header has no phone column (one of: " + ", ".join(sorted(PHONE_COLUMNS)) + ")"
            )
        name, tags = find(NAME_COLUMNS), find(TAG_COLUMNS)
        custom = {i: key for i, key in enumerate(keys) if i not in (phone, name, tags) and key}
        return cls(phone, name, tags, custom)


def _row(columns: Columns, record: Record, region: str) -> dict[str, Any]:
    values = record.values

    def cell(index: int | None) -> str:
        return values[index].strip() if index is not None and index < len(values) else ""

    digits, jid = phones.normalize(cell(columns.phone), region)
    return {
        "jid": jid,
        "phone": digits,
        "name": cell(columns.name) or None,
        "tags": split_tags(cell(columns.tags)),
        "fields": {key: cell(i) for i, key in columns.fields.items() if cell(i)},
    }


async def import_csv(
    db: AsyncSession,
    user: User,
    chunks: AsyncIterable[bytes],
    *,
    region: str,
    extra_tags: Sequence[str] = (),
) -> ImportReport:
    """Insert new numbers and update known ones (name and fields replaced when
    given, tags added), a batch at a time as the file streams in."""
    report = ImportReport()
    columns: Columns | None = None
    added_tags = clean_tags(extra_tags)
    async for batch in records(chunks):
        if columns is None:
            columns = Columns.of(batch[0].values)
            batch = batch[1:]
        rows: dict[str, dict[str, Any]] = {}
        for record in batch:
            try:
                row = _row(columns, record, region)
            except phones.InvalidPhoneError as exc:
                report.reject(record.line, str(exc))
                continue
            row["tags"] = clean_tags([*row["tags"], *added_tags])
            earlier = rows.get(row["jid"])
            if earlier is not None:  # the same number twice in a batch: the later wins
                _merge(earlier, row)
                report.updated += 1
                continue
            rows[row["jid"]] = row
        await _store(db, user, rows, report)
    if columns is None:
        raise _validation("CSV file is empty: a header row and contact rows are expected")
    return report


def _merge(into: dict[str, Any], row: dict[str, Any]) -> None:
    into["name"] = row["name"] or into.get("name")
    into["tags"] = clean_tags([*into.get("tags", []), *row["tags"]])
    into["fields"] = {**into.get("fields", {}), **row["fields"]}


async def _store(
    db: AsyncSession, user: User, rows: dict[str, dict[str, Any]], report: ImportReport
) -> None:
    if not rows:
        return
    existing = await ContactRepository(db).existing(user.id, list(rows))
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for jid, row in rows.items():
        known = existing.get(jid)
        if known is None:
            inserts.append(
                {
                    **row,
                    "id": uuid.uuid4(),
                    "user_id": user.id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        merged = {"tags": list(known.tags or []), "fields": dict(known.fields or {})}
        _merge(merged, row)
        change = {"id": known.id, "tags": merged["tags"], "fields": merged["fields"]}
        if row["name"]:
            change["name"] = row["name"]
        change["updated_at"] = now
        updates.append(change)
    if inserts:
        # Core rows, not ORM objects: a large import stays fast and small.
        await db.execute(insert(CONTACTS_TABLE), inserts)
    for change in updates:  # rows differ in their columns: one statement each
        await db.execute(
            update(BroadcastContact).where(BroadcastContact.id == change.pop("id")).values(**change)
        )
    report.imported += len(inserts)
    report.updated += len(updates)


# -- CSV export ------------------------------------------------------------

EXPORT_BATCH = 1000


async def export_csv(database: Database, user_id: uuid.UUID) -> AsyncIterator[str]:
    """The user's contacts as CSV text, read in its own transaction as it streams:
    phone (+E.164), name, tags, opted_out, then each custom field."""
    async with database.transaction() as db:
        statement = ContactRepository(db).owned(user_id).order_by(*ContactRepository.ORDER)
        keys: dict[str, None] = {}
        async for fields in await db.stream_scalars(
            statement.with_only_columns(BroadcastContact.fields)
        ):
            for key in fields or {}:
                keys.setdefault(key, None)
        columns = list(keys)

        async def rows() -> AsyncIterator[list[object]]:
            streamed = await db.stream_scalars(statement.execution_options(yield_per=500))
            async for index, contact in _counted(streamed):
                if index % EXPORT_BATCH == 0:
                    db.expunge_all()  # rows already written need not stay in the session
                yield [
                    phones.e164(contact.phone),
                    contact.name or "",
                    ",".join(contact.tags or []),
                    "true" if contact.opted_out else "false",
                    *(str((contact.fields or {}).get(key, "")) for key in columns),
                ]

        async for text in csv_text(["phone", "name", "tags", "opted_out", *columns], rows()):
            yield text


async def _counted(items: AsyncIterable[T]) -> AsyncIterator[tuple[int, T]]:
    index = 0
    async for item in items:
        index += 1
        yield index, item
