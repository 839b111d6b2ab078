"""Go's client tables: calls share them, a start or a stop has them alone.

The race itself runs in a process of its own (``race.py``), because what it
guards against is Go aborting the whole process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wagate.engines.whatsmeow.client import GoCalls, SessionClient
from wagate.engines.whatsmeow.ordering import ClientTables

HERE = Path(__file__).parent


async def test_a_start_waits_for_calls_in_flight_and_calls_wait_for_it() -> None:
    tables = ClientTables()
    await tables.shared()
    start = asyncio.create_task(tables.exclusive(5))
    await asyncio.sleep(0.01)
    assert not start.done()  # a call is in Go
    assert not tables.try_shared()  # a start waits: new calls queue behind it
    call = asyncio.create_task(tables.shared())
    tables.release_shared()
    assert await start and tables.writing
    await asyncio.sleep(0.01)
    assert not call.done()
    tables.release_exclusive()
    await asyncio.wait_for(call, 1)
    tables.release_shared()
    assert tables.try_shared()


async def test_calls_queued_behind_a_stop_go_before_the_next_one() -> None:
    tables = ClientTables()
    assert await tables.exclusive(1)
    call = asyncio.create_task(tables.shared())
    next_stop = asyncio.create_task(tables.exclusive(5))
    await asyncio.sleep(0.01)
    tables.release_exclusive()
    await asyncio.wait_for(call, 1)  # the waiting call first, though a stop waits too
    await asyncio.sleep(0.01)
    assert not next_stop.done()
    tables.release_shared()
    assert await next_stop


async def test_a_start_gives_up_when_a_call_outlasts_its_wait() -> None:
    tables = ClientTables()
    await tables.shared()
    assert not await tables.exclusive(0.05)
    assert tables.try_shared()  # the one that gave up holds nothing and blocks nothing
    tables.release_shared()
    tables.release_shared()
    assert await tables.exclusive(0.05)


async def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    tables = ClientTables()
    assert await tables.exclusive(1)
    call = asyncio.create_task(tables.shared())
    await asyncio.sleep(0.01)
    call.cancel()
    await asyncio.gather(call, return_exceptions=True)
    tables.release_exclusive()
    assert await tables.exclusive(0.05)


async def test_every_way_a_session_client_calls_go_is_ordered(tmp_path: Path) -> None:
    """neonize's client, contact store and chat-settings store each hold a caller of
    Go; all three must be the session's ordered calls, never neonize's own."""

    class Ignore:
        def on_qr(self, code: str) -> None: ...

        def on_login_status(self, status: str) -> None: ...

        def on_event(self, code: int, event: object) -> None: ...

    tables = ClientTables()
    with ThreadPoolExecutor(1) as executor:
        calls = GoCalls(asyncio.get_running_loop(), executor, "s1", lambda _: None, tables)
        client = SessionClient(
            str(tmp_path / "whatsmeow.db"), Ignore(), calls, device_jid=None, device_name="t"
        )
        assert client._NewAClient__client is calls
        assert client.contact._ContactStore__client is calls
        assert client.chat_settings._ChatSettingsStore__client is calls
        assert await tables.exclusive(1)  # a start holds the tables: a call must wait
        lookup = asyncio.create_task(client.contact.get_all_contacts())
        await asyncio.sleep(0.05)
        assert not lookup.done()
        lookup.cancel()  # before it reaches Go, which has no such client and would crash
        await asyncio.gather(lookup, return_exceptions=True)
        tables.release_exclusive()
        assert tables.try_shared()  # the cancelled call left nothing behind


def test_ids_and_sends_while_other_sessions_start_and_stop_abort_nothing(
    tmp_path: Path,
) -> None:
    seconds, churning = 3, 10
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "race.py"),
            str(tmp_path / "data"),
            str(seconds),
            str(churning),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )
    assert "fatal error" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    # The race really ran: Go generated ids and read its tables for sends while
    # the other sessions kept starting and stopping.
    assert counts["ids"] > 1000 and counts["sends"] > 20 and counts["starts"] > 2 * churning
    assert counts["refused"] == counts["sends"]  # offline: every send is refused, none hangs
