"""Give large freed blocks back to the system.

glibc's ``malloc`` serves a large block (128 KiB and up) with its own ``mmap``
and unmaps it when freed, but it raises that threshold to the size of each such
block it frees. An argon2 hash allocates 19 MiB (OWASP's parameters,
``auth/passwords.py``), so after the first one every later hash takes its 19 MiB
from the heap of the thread that computes it, and that memory stays resident
for the life of the process: about 20 MB, from the admin's creation at the first
start or from the first login. A fixed threshold keeps large blocks mapped and
unmapped one by one, as they were meant to be.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
LARGE_BLOCK = 128 * 1024  # glibc's own default threshold


def keep_large_blocks_unmapped() -> bool:
    """Fix glibc's mmap threshold; ``False`` where there is no glibc (it changes nothing)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False  # musl and others: no mallopt
    applied = bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))
    if not applied:
        logger.debug("mallopt(M_MMAP_THRESHOLD) was refused")
    return applied
