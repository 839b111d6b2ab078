"""Large freed blocks go back to the system: a password hash's 19 MiB does not
stay resident after it is done (glibc only; elsewhere there is nothing to fix)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Hashes passwords as the app does (in worker threads) and prints how much the
# process's resident memory grew after the first one.
_PROBE = """
import asyncio, sys
from wagate.auth.passwords import hash_password
from wagate.memory import keep_large_blocks_unmapped

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

async def main():
    if sys.argv[1] == "fixed":
        assert keep_large_blocks_unmapped()
    await hash_password("first password")
    before = rss_kb()
    for n in range(3):
        await hash_password(f"password number {n}")
    print(rss_kb() - before)

asyncio.run(main())
"""

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the mmap threshold is glibc's",
)


def grown_kb(mode: str) -> int:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(completed.stdout.strip())


def test_password_hashes_leave_no_resident_memory_behind() -> None:
    assert grown_kb("fixed") < 8 * 1024


def test_without_the_fixed_threshold_the_hashes_memory_stays() -> None:
    # The default this module corrects: if glibc ever stops doing this, the fix can go.
    assert grown_kb("default") > 15 * 1024
