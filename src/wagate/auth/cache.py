"""Credentials without a database round trip per request.

The rows a request's credential resolves to (its user, a session key's
session, a user key) are kept in memory, by id and by key hash, and handed to
each request as its own copy attached to its DB session (no query). Every
change to one of those rows, by this process or another, takes it out:

* **In this process, at once.** A flush that changes a user, a session or a
  key (including bulk ``UPDATE``/``DELETE`` statements on their tables) drops
  the rows and marks their ids *changing* until the transaction ends: a lookup
  of a changing id goes to the database, and the rows are dropped again once
  the transaction has ended. So a request that starts after a revoke's commit
  never sees the old row, not even in the moment between the database's commit
  and the end of the revoking request. A row read by a transaction that began
  before any of those changes ended is not kept (a generation number), so a
  slow reader cannot put back a row older than the change.
* **In other processes** (the CLI beside a running server, later several
  servers on one data folder): a change to a credential (a user, a key, a
  session's key hash or owner, a deletion) writes a new random value into a
  small memory-mapped file in the data folder (:class:`SharedEpoch`) after the
  commit, and every lookup compares it with the value it last saw (a memory
  read, no system call); a new value empties the cache. Servers on other hosts
  would publish the same signal over Redis pub/sub (docs/performance.md).

Changes of a session's state (its status, QR code, phone number) are dropped
in the process that made them only: today one process drives every session.

Bounded: at most ``max_entries`` rows of each kind, least recently used first out.
"""

from __future__ import annotations

import mmap
import os
import uuid
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    InstanceState,
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
)

from wagate.auth.models import ApiKey, User
from wagate.auth.repository import ApiKeyRepository
from wagate.private_files import ensure_private_file
from wagate.sessions.models import WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.base import Base
from wagate.storage.db import Database

T = TypeVar("T", bound=Base)
K = TypeVar("K")
V = TypeVar("V")

MAX_ENTRIES = 4096
# An execution option for bulk statements that touch a credential table without
# changing what a credential resolves to (a lock taken by a no-op update).
CREDENTIALS_UNCHANGED = "wagate_credentials_unchanged"

_CACHE = "wagate_credential_cache"
_CHANGING = "wagate_credentials_changing"
_SHARED_CHANGE = "wagate_credentials_shared_change"
_CLEAR_ALL = "wagate_credentials_clear_all"
_GENERATION = "wagate_credentials_generation"
# A key's column whose change is no credential's (other processes keep theirs).
_KEY_LOCAL_ONLY = {"last_used_at"}
# Columns of a session that decide whom its key lets in.
_SESSION_CREDENTIAL = ("api_key_hash", "user_id")


class SharedEpoch:
    """Eight bytes in a file every process on the data folder maps: a new random
    value after each credential change. Reading it is a memory read."""

    SIZE = 8

    def __init__(self, path: Path) -> None:
        ensure_private_file(path)
        fd = os.open(path, os.O_RDWR)
        try:
            if os.fstat(fd).st_size < self.SIZE:
                os.ftruncate(fd, self.SIZE)
            self._map = mmap.mmap(fd, self.SIZE)
        finally:
            os.close(fd)

    def read(self) -> bytes:
        return self._map[: self.SIZE]

    def bump(self) -> None:
        # A fresh random value differs from whatever any reader saw last; a
        # counter would need a lock between processes to never repeat.
        self._map[: self.SIZE] = os.urandom(self.SIZE)

    def close(self) -> None:
        self._map.close()


class _Rows(Generic[K, V]):
    """A bounded map, least recently used first out."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.max_entries:
            self.items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        return self.items.pop(key, None)


def _detached_copy(row: T) -> T | None:
    """A copy of a freshly loaded row for the cache, or None when the row holds
    changes of its own transaction or is not fully loaded."""
    state: InstanceState[T] = inspect(row)
    if state.modified or state.expired_attributes or state.key is None:
        return None
    if any(attribute.key not in state.dict for attribute in state.mapper.column_attrs):
        return None
    return _copy(state)


def _copy(state: InstanceState[T]) -> T:
    """A detached copy of a loaded row: its columns' values, as stored (a copy
    of the dict is a tenth of what ``Session.merge`` costs)."""
    mapper = state.mapper
    copy: T = mapper.class_manager.new_instance()
    values = state.dict
    copy_state: InstanceState[T] = inspect(copy)
    copy_state.dict.update({a.key: values[a.key] for a in mapper.column_attrs})
    copy_state.key = state.key
    return copy


def _attached(db: AsyncSession, cached: T) -> T:
    """The request's own copy of a cached row, in its DB session, without a query:
    the row it already holds, else a new persistent copy (changes to it flush as
    to any row the request loaded)."""
    session = db.sync_session
    state: InstanceState[T] = inspect(cached)
    held = session.identity_map.get(state.key) if state.key is not None else None
    if held is not None:
        return held
    copy = _copy(state)
    # What ``Session.add`` does for a row with a key, without walking the
    # relationships it would cascade to (there are none): that walk was most of
    # the cost of answering from the cache. ``_update_impl`` is SQLAlchemy's
    # own (private) step; a version without it gets the public ``add``.
    attach = getattr(session, "_update_impl", None)
    if state.mapper.relationships or attach is None:
        session.add(copy)
    else:
        copy_state: InstanceState[T] = inspect(copy)
        attach(copy_state)
    return copy


class CredentialCache:
    """Users, sessions (by id and by key hash) and user keys (by hash), with the
    invalidation described in the module's docstring."""

    def __init__(self, epoch: SharedEpoch | None = None, max_entries: int = MAX_ENTRIES) -> None:
        self._epoch = epoch
        self._seen = epoch.read() if epoch else b""
        self._users: _Rows[uuid.UUID, User] = _Rows(max_entries)
        self._sessions: _Rows[uuid.UUID, WhatsAppSession] = _Rows(max_entries)
        self._session_by_hash: dict[str, uuid.UUID] = {}
        self._keys: _Rows[str, ApiKey] = _Rows(max_entries)
        self._key_hash_by_id: dict[uuid.UUID, str] = {}
        self._changing: Counter[uuid.UUID] = Counter()
        self.generation = 0

    # -- installing -------------------------------------------------------

    def install(self, database: Database) -> None:
        """Serve ``database``'s sessions and hear every change made through them."""
        database.session_info[_CACHE] = self
        cls = database.session_class
        event.listen(cls, "after_begin", self._began)
        event.listen(cls, "after_flush", self._flushed)
        event.listen(cls, "do_orm_execute", self._executed)
        event.listen(cls, "after_transaction_end", self._ended)

    def close(self) -> None:
        """Unmap the shared epoch (the cache then serves this process only)."""
        if self._epoch is not None:
            self._epoch.close()
            self._epoch = None

    # -- lookups ----------------------------------------------------------

    async def user(self, db: AsyncSession, user_id: uuid.UUID) -> User | None:
        self._sync()
        cached = self._users.get(user_id) if not self._changing[user_id] else None
        if cached is not None:
            return _attached(db, cached)
        row = await db.get(User, user_id)
        if row is not None and self._may_fill(db, row.id):
            copy = _detached_copy(row)
            if copy is not None:
                self._users.put(row.id, copy)
        return row

    async def session(self, db: AsyncSession, session_id: uuid.UUID) -> WhatsAppSession | None:
        self._sync()
        cached = self._sessions.get(session_id) if not self._changing[session_id] else None
        if cached is not None:
            return _attached(db, cached)
        row = await db.get(WhatsAppSession, session_id)
        if row is not None:
            self._keep_session(db, row)
        return row

    async def session_by_key_hash(self, db: AsyncSession, key_hash: str) -> WhatsAppSession | None:
        self._sync()
        session_id = self._session_by_hash.get(key_hash)
        if session_id is not None and not self._changing[session_id]:
            cached = self._sessions.get(session_id)
            if cached is not None and cached.api_key_hash == key_hash:
                return _attached(db, cached)
        row = await SessionRepository(db).get_by_key_hash(key_hash)
        if row is not None:
            self._keep_session(db, row)
        return row

    def attached(self, db: AsyncSession, row: T) -> T:
        """``row`` (from :meth:`user_key`) as the request's own, to change it."""
        return _attached(db, row)

    async def user_key(self, db: AsyncSession, key_hash: str) -> ApiKey | None:
        """A user key as stored, for checks only (not attached to ``db``: see
        :meth:`attached`)."""
        self._sync()
        cached = self._keys.get(key_hash)
        if cached is not None and not self._changing[cached.id]:
            return cached
        row = await ApiKeyRepository(db).get_by_hash(key_hash)
        if row is not None and self._may_fill(db, row.id):
            copy = _detached_copy(row)
            if copy is not None:
                self._keys.put(key_hash, copy)
                self._key_hash_by_id[row.id] = key_hash
        return row

    def _keep_session(self, db: AsyncSession, row: WhatsAppSession) -> None:
        if self._may_fill(db, row.id):
            copy = _detached_copy(row)
            if copy is not None:
                self._drop_session(row.id)
                self._sessions.put(row.id, copy)
                self._session_by_hash[copy.api_key_hash] = row.id

    def _may_fill(self, db: AsyncSession, row_id: uuid.UUID) -> bool:
        """Whether a row this transaction read may be kept: nothing that could
        change it ended since the transaction began, and nothing is changing it."""
        self._sync()
        began = db.info.get(_GENERATION)
        return began == self.generation and not self._changing[row_id]

    # -- invalidation -----------------------------------------------------

    def clear(self) -> None:
        self._users.items.clear()
        self._sessions.items.clear()
        self._session_by_hash.clear()
        self._keys.items.clear()
        self._key_hash_by_id.clear()
        self.generation += 1

    def drop(self, ids: set[uuid.UUID]) -> None:
        for row_id in ids:
            self._users.pop(row_id)
            self._drop_session(row_id)
            key_hash = self._key_hash_by_id.pop(row_id, None)
            if key_hash is not None:
                self._keys.pop(key_hash)
        self.generation += 1

    def _drop_session(self, session_id: uuid.UUID) -> None:
        cached = self._sessions.pop(session_id)
        if cached is not None and self._session_by_hash.get(cached.api_key_hash) == session_id:
            del self._session_by_hash[cached.api_key_hash]

    def _sync(self) -> None:
        """Empty the cache when another process changed a credential."""
        if self._epoch is not None:
            now = self._epoch.read()
            if now != self._seen:
                self._seen = now
                self.clear()

    def _began(self, session: Session, _: SessionTransaction, __: Any) -> None:
        if _GENERATION not in session.info:
            self._sync()
            session.info[_GENERATION] = self.generation

    def _changing_ids(self, session: Session) -> set[uuid.UUID]:
        ids: set[uuid.UUID] | None = session.info.get(_CHANGING)
        if ids is None:
            ids = session.info[_CHANGING] = set()
        return ids

    def _flushed(self, session: Session, _: UOWTransaction) -> None:
        changed: set[uuid.UUID] = set()
        shared = False
        for row in (*session.dirty, *session.deleted):
            if not isinstance(row, (User, WhatsAppSession, ApiKey)):
                continue
            changed.add(row.id)
            state: InstanceState[Any] = inspect(row)
            if row in session.deleted or isinstance(row, User):
                shared = True
            elif isinstance(row, WhatsAppSession):
                shared = shared or any(
                    state.attrs[name].history.has_changes() for name in _SESSION_CREDENTIAL
                )
            else:
                shared = shared or any(
                    attr.history.has_changes()
                    for attr in state.attrs
                    if attr.key not in _KEY_LOCAL_ONLY
                )
        if changed:
            self._begin_change(session, changed)
        if shared:
            session.info[_SHARED_CHANGE] = True

    def _executed(self, state: ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete):
            return
        if state.execution_options.get(CREDENTIALS_UNCHANGED):
            return
        mapper = state.bind_mapper
        if mapper is not None and mapper.class_ in (User, WhatsAppSession, ApiKey):
            # Which rows a bulk statement changes is not known: forget them all,
            # now and again once the transaction ends.
            state.session.info[_CLEAR_ALL] = True
            state.session.info[_SHARED_CHANGE] = True
            self.clear()

    def _begin_change(self, session: Session, changed: set[uuid.UUID]) -> None:
        ids = self._changing_ids(session)
        new = changed - ids
        ids |= new
        for row_id in new:
            self._changing[row_id] += 1
        self.drop(new)

    def _ended(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is not None:
            return
        info = session.info
        ids: set[uuid.UUID] = info.pop(_CHANGING, set())
        clear_all = info.pop(_CLEAR_ALL, False)
        shared = info.pop(_SHARED_CHANGE, False)
        info.pop(_GENERATION, None)
        if ids:
            self.drop(ids)
            for row_id in ids:
                self._changing[row_id] -= 1
                if self._changing[row_id] <= 0:
                    del self._changing[row_id]
        if clear_all:
            self.clear()
        if shared and self._epoch is not None:
            self._epoch.bump()
            self._seen = self._epoch.read()


def of(db: AsyncSession) -> CredentialCache | None:
    """The cache serving ``db``'s database, if one is installed."""
    cache: CredentialCache | None = db.info.get(_CACHE)
    return cache


def install(database: Database, data_dir: Path | None) -> CredentialCache:
    """A credential cache for ``database``, shared with every process that uses
    ``data_dir`` (None: this process only)."""
    epoch = SharedEpoch(data_dir / "credentials.epoch") if data_dir is not None else None
    cache = CredentialCache(epoch)
    cache.install(database)
    return cache
