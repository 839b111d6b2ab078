"""The network's folder: one state file written atomically, and media by content hash.

Writing the whole state on every message would not keep up with a benchmark, so
changes only mark the state dirty and one write follows a short delay later,
whatever the number of changes in between. ``save`` writes at once (control
operations await it, so a link survives a ``kill -9`` right after it); saves
that arrive while a write runs share the next write, so creating phones
concurrently costs a few whole-state writes, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wagate.private_files import make_private_dir, write_private

logger = logging.getLogger("wagate.sandbox.store")


def write_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    make_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.tmp")
    write_private(temporary, text.encode("utf-8"), sync=True)
    os.replace(temporary, path)


class StateStore:
    def __init__(
        self, folder: Path, snapshot: Callable[[], dict[str, Any]], *, flush_delay: float
    ) -> None:
        self.folder = folder
        self.state_path = folder / "state.json"
        self.media_folder = folder / "media"
        self._snapshot = snapshot
        self._flush_delay = flush_delay
        self._dirty = False
        # Changes counted as they are saved, and the count the last write covered:
        # saves that wait while a write runs share the next one (group commit).
        self._saved = 0
        self._written = 0
        self.writes = 0  # whole-state writes made: what the group commit saves shows here
        self._pending: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()

    def load(self) -> dict[str, Any] | None:
        if not self.state_path.exists():
            return None
        data: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return data

    def mark_dirty(self) -> None:
        self._dirty = True
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._flush_later(), name="sandbox-state-flush")

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_delay)
        try:
            await self.flush()
        except OSError:
            logger.exception("could not write the sandbox state to %s", self.state_path)

    async def save(self) -> None:
        """Write now, whatever was marked: for changes a caller must not lose.

        Returns once a write that began after this call's change has finished;
        saves made while another write runs share one write instead of queueing
        one whole-state write each.
        """
        self._dirty = True
        self._saved += 1
        change = self._saved
        async with self._write_lock:
            if self._written >= change:
                return
            await self._write_locked()

    async def flush(self) -> None:
        async with self._write_lock:
            await self._write_locked()

    async def _write_locked(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        covered = self._saved
        # The snapshot is taken on the loop, so it is consistent; only the
        # slow part, serialising and writing, leaves it.
        snapshot = self._snapshot()
        try:
            await asyncio.to_thread(self._write, snapshot)
        except BaseException:
            self._dirty = True
            raise
        self._written = covered
        self.writes += 1

    def _write(self, snapshot: dict[str, Any]) -> None:
        write_atomic(self.state_path, json.dumps(snapshot, separators=(",", ":")))

    async def close(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending
        await self.flush()

    # -- media ----------------------------------------------------------------

    async def put_media(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.media_folder / digest
        if not path.exists():
            await asyncio.to_thread(_write_bytes_atomic, path, data)
        return digest

    async def read_media(self, digest: str) -> bytes | None:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            return None  # not a hash: never let a reference walk the file system
        path = self.media_folder / digest
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    def remove_unused_media(self, in_use: set[str]) -> int:
        if not self.media_folder.exists():
            return 0
        removed = 0
        for path in self.media_folder.iterdir():
            if path.is_file() and path.name not in in_use and not path.name.startswith("."):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    make_private_dir(path.parent)
    # A name of its own: two sends of the same bytes may write at once.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    write_private(temporary, data)
    os.replace(temporary, path)
