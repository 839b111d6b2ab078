"""Memory at start (docs/performance.md): the app's import leaves out what only
some requests need, and large freed blocks go back to the system: a password
hash's 19 MiB does not stay resident after it is done (glibc only)."""

from __future__ import annotations

import json
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

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the mmap threshold is glibc's",
)

# Imported on first use, never with the app (docs/performance.md, "Memory at start"):
# each is megabytes resident that a gateway which never needs it should not carry.
LAZY = {
    "alembic": "migrations run only when the schema is behind (storage/migrate.py)",
    "mako": "Alembic's templates",
    "cryptography": "webhook secrets (webhooks/crypto.py); tokens are HS256 with hmac",
    "jwt": "tokens are made and read with hmac (auth/tokens.py)",
    "zxcvbn": "the common-password list, when a password is set (auth/passwords.py)",
    "aiohttp": "socketio's asyncio client (faces/channels/socket.py)",
    "requests": "engineio's client (faces/channels/socket.py)",
    "redis": "only with WAGATE_REDIS_URL (analytics/ratelimit.py)",
    "rich": "httpx's command line (wagate/__init__.py)",
    "pygments": "httpx's command line and Mako",
    "jinja2": "dashboard pages and broadcast templates, at first render",
    "segno": "QR images, at the first QR code (sessions/qr.py)",
    "phonenumbers": "broadcast contacts' numbers (campaigns/phones.py)",
    "sqlalchemy.dialects.postgresql": "on SQLite (storage/db.py upsert_insert)",
    "watchfiles": "uvicorn's --reload, never used (cli.py)",
    "neonize": "only when the whatsmeow engine is enabled",
    "PIL": "tests only",
    "schemathesis": "tests only",
    "playwright": "tests only",
}


def test_the_app_and_its_command_import_none_of_the_lazy_libraries() -> None:
    probe = "import json, sys, wagate.cli, wagate.app; print(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    imported = sorted(set(LAZY) & set(json.loads(completed.stdout)))
    assert imported == [], "imported with the app: " + "; ".join(
        f"{name} (meant for: {LAZY[name]})" for name in imported
    )


def test_the_lazy_socketio_clients_still_work_when_used() -> None:
    probe = (
        "import sys, wagate.app, socketio, engineio.async_client as client; "
        "assert 'aiohttp' not in sys.modules; "
        "assert client.aiohttp.ClientSession is not None; "
        "print('aiohttp' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "True"


def grown_kb(mode: str) -> int:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(completed.stdout.strip())


@glibc_only
def test_password_hashes_leave_no_resident_memory_behind() -> None:
    grown_by_default = grown_kb("default")
    if grown_by_default < 15 * 1024:
        # How much glibc keeps depends on which threads' heaps the hashes land in:
        # where it gave the memory back anyway there is nothing to correct here.
        pytest.skip(f"glibc kept only {grown_by_default} KiB without the fix on this run")
    assert grown_kb("fixed") < 8 * 1024, f"without the fix {grown_by_default} KiB stayed"
