"""Files only wagate's own user may read: the database, the sandbox network's
state and media, like the secret key. Created so from the start (mode 0600),
never readable by others for a moment in between."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) for this user alone; an existing folder
    keeps its mode, which its owner may have chosen."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty if missing; either way leave it readable by its owner only.
    (SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file.)"""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        # A file we do not own (a deliberately shared database) keeps its mode.
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes, *, sync: bool = False) -> None:
    """Write ``data`` to ``path`` (a temporary file's name, replaced into place
    by the caller) with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE)
        handle.write(data)
        handle.flush()
        if sync:
            os.fsync(handle.fileno())
