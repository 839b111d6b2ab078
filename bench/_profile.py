"""Where the gateway's time goes under load: py-spy samples a ``wagate serve``
while wrk drives one path, then the top frames are printed.

    /tmp/pyspy-venv/bin/pip install py-spy   # a venv of its own
    .venv/bin/python bench/_profile.py {me,send,inbound} [--seconds 15] [--py-spy PATH]

``me``: ``GET /api/v1/sessions/me`` by session key (16 keys in turn);
``send``: acked sends spread over 16 sessions; 32 requests in flight either way.
``inbound``: 16 phones on a sandbox process send to 16 linked sessions, 64 at a time.
Not part of ``make bench`` (it needs root for py-spy and says nothing about goals).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import tempfile
import threading
from pathlib import Path

from _gateway import database_url_argument, running_gateway, session_keys
from _wrk import rotating_requests, run_wrk

SESSIONS, CUSTOMER = 16, "15558880001"


def top_frames(collapsed: Path, count: int = 40) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")
        if "MainThread" not in frames[0]:
            continue  # the event loop's thread: the others wait on it or on the database
        frames = frames[1:] or ["(idle)"]
        weight = int(samples)
        total += weight
        own[frames[-1]] += weight
        for frame in set(frames):
            inclusive[frame] += weight
    print(f"{total} samples of the event loop's thread (idle: waiting in the loop)")
    print("\nself time:")
    for frame, samples in own.most_common(count):
        print(f"  {samples / total:6.1%}  {frame}")
    print("\ninclusive (frames in wagate, sqlalchemy, starlette, fastapi, aiosqlite, asyncpg):")
    wanted = ("wagate", "sqlalchemy", "starlette", "fastapi", "aiosqlite", "asyncpg", "pydantic")
    shown = [(f, s) for f, s in inclusive.most_common() if any(w in f for w in wanted)]
    for frame, samples in shown[:count]:
        print(f"  {samples / total:6.1%}  {frame}")


async def profile_inbound(seconds: float, py_spy: str, database_url: str | None) -> None:
    import httpx
    from _gateway import link_session, login, run_concurrently, sandbox_process
    from inbound_throughput import BUSINESS, PHONE_CONCURRENCY, PHONES
    from inbound_throughput import CUSTOMER as PHONE

    with tempfile.TemporaryDirectory(prefix="wagate-profile-") as tmp:
        async with sandbox_process(Path(tmp) / "sandbox") as (sandbox_url, control):
            for n in range(PHONES):
                await control.create_phone(PHONE.format(n))
            async with running_gateway(
                database_url, Path(tmp) / "gateway", WAGATE_SANDBOX_URL=sandbox_url
            ) as gateway:
                async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
                    auth = await login(http)
                    for n in range(PHONES):
                        await link_session(http, auth, BUSINESS.format(n))
                collapsed = Path(tmp) / "profile.txt"
                assert gateway.process is not None
                spy = spawn_py_spy(py_spy, gateway.process.pid, seconds, collapsed)

                async def one(index: int) -> None:
                    phone = index % PHONES
                    await control.send_message(
                        PHONE.format(phone), {"to": BUSINESS.format(phone), "text": f"in {index}"}
                    )

                sender = asyncio.create_task(run_concurrently(20_000, PHONE_CONCURRENCY, one))
                await asyncio.to_thread(spy.wait)
                sender.cancel()
                top_frames(collapsed)


async def profile(path: str, seconds: float, py_spy: str, database_url: str | None) -> None:
    if path == "inbound":
        await profile_inbound(seconds, py_spy, database_url)
        return
    with tempfile.TemporaryDirectory(prefix="wagate-profile-") as tmp:
        async with running_gateway(database_url, Path(tmp) / "gateway") as gateway:
            keys = await session_keys(gateway.url, SESSIONS, CUSTOMER)
            if path == "me":
                script = rotating_requests("GET", "/api/v1/sessions/me", keys)
            else:
                body = json.dumps({"to": CUSTOMER, "text": "profile"})
                headers = [k | {"content-type": "application/json"} for k in keys]
                script = rotating_requests("POST", "/api/v1/messages/send", headers, [body])
            collapsed = Path(tmp) / "profile.txt"
            assert gateway.process is not None
            spy = spawn_py_spy(py_spy, gateway.process.pid, seconds, collapsed)
            load = threading.Thread(
                target=run_wrk,
                args=(gateway.url,),
                kwargs={"connections": 32, "seconds": seconds + 2, "script": script},
            )
            load.start()
            await asyncio.to_thread(spy.wait)
            await asyncio.to_thread(load.join)
            top_frames(collapsed)


def spawn_py_spy(py_spy: str, pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(py_spy, "record", "--pid", str(pid), "--format", "raw", "--threads", "--idle"),
            *("--duration", str(int(seconds)), "--rate", "200", "--output", str(output)),
        ],
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("path", choices=["me", "send", "inbound"])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--py-spy", default="/tmp/pyspy-venv/bin/py-spy")  # noqa: S108
    database_url_argument(parser)
    args = parser.parse_args()
    asyncio.run(profile(args.path, args.seconds, args.py_spy, args.database_url))


if __name__ == "__main__":
    main()
