"""The media store: files named by the SHA-256 of their bytes, under the data folder.

Content addressing makes a stored file immutable and de-duplicates a picture
that a campaign sends a thousand times.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import filetype

_CHUNK = 1024 * 1024


class MediaTooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class StoredMedia:
    sha256: str
    size: int
    path: Path
    sniffed_mimetype: str | None


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    async def save_bytes(self, data: bytes) -> StoredMedia:
        return await asyncio.to_thread(self._save_bytes, data)

    def _save_bytes(self, data: bytes) -> StoredMedia:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        if not path.exists():
            self._write_atomically(path, [data])
        return StoredMedia(digest, len(data), path, sniff(data[:8192]))

    async def save_stream(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StoredMedia:
        """Store a stream without holding it in memory; stop as soon as it passes
        ``max_bytes`` and keep nothing of it."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        handle, temp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as temp:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaTooLargeError(max_bytes)
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    await asyncio.to_thread(temp.write, chunk)
            path = self.path_for(digest.hexdigest())
            await asyncio.to_thread(_move_into_place, temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)  # a partial upload is never kept
            raise
        return StoredMedia(digest.hexdigest(), size, path, sniff(head))

    async def read(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path_for(sha256).read_bytes)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def _write_atomically(self, path: Path, parts: list[bytes]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".media-")
        with os.fdopen(handle, "wb") as temp:
            for part in parts:
                temp.write(part)
        os.replace(temp_name, path)


def _move_into_place(temp_name: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp_name, path)


def sniff(head: bytes) -> str | None:
    """The type the bytes say they are, whatever the upload claimed."""
    kind = filetype.guess(head)
    return kind.mime if kind is not None else None


class AsyncReadable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


async def read_chunks(source: AsyncReadable, chunk_size: int = _CHUNK) -> AsyncIterator[bytes]:
    """Chunks from anything with ``async read(n)``, such as an ``UploadFile``."""
    while True:
        chunk = await source.read(chunk_size)
        if not chunk:
            return
        yield chunk
