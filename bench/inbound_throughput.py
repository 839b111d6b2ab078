"""Inbound messages and receipts from 16 phones, stored by the gateway with
their outbox events, in messages (receipts) a second.

    .venv/bin/python bench/inbound_throughput.py [--messages 2000] [--receipts 640]
        [--database-url URL]

The phones live on a sandbox network in a process of its own (``python -m
wagate.engines.sandbox``), driven from this process over the sandbox's socket,
so making the load costs the gateway nothing. The gateway reaches that network
as it would in production (``WAGATE_SANDBOX_URL``) with 16 linked sessions, each
talking with one phone.

* inbound: the 16 phones send ``--messages`` in all, 64 at a time; the clock
  runs from the first send to the moment the gateway's database holds every
  message's ``message.received`` event (goal ≥ 2,000 messages/s);
* receipts: the gateway first sends ``--receipts`` messages to the phones (not
  timed); then each phone reads them one at a time, a read receipt each; the
  clock runs from the first read to the moment every message is ``read`` in
  the database (goal ≥ 2,000 receipts/s).

The rate the phones handed their messages over is printed beside it: when it
is close to the stored rate, the sandbox, not the gateway, set the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from _gateway import (
    count,
    database_name,
    database_url_argument,
    link_session,
    login,
    poll,
    run_concurrently,
    running_gateway,
    sandbox_process,
)
from _report import Report

from wagate.engines.sandbox.remote_control import RemoteControl

PHONES = 16
PHONE_CONCURRENCY = 64
BUSINESS, CUSTOMER = "1555999{:04d}", "1555888{:04d}"
RECEIVED = "SELECT count(*) FROM outbox_events WHERE type = 'message.received'"
OUT_WITH_STATUS = "SELECT count(*) FROM messages WHERE direction = 'out' AND status = '{}'"


async def inbound(
    control: RemoteControl, count_received: Callable[[], Awaitable[int]], messages: int
) -> tuple[float, float]:
    started = time.perf_counter()

    async def one(index: int) -> None:
        phone = index % PHONES
        await control.send_message(
            CUSTOMER.format(phone), {"to": BUSINESS.format(phone), "text": f"in {index}"}
        )

    handed = await run_concurrently(messages, PHONE_CONCURRENCY, one)

    async def all_stored() -> bool:
        return bool(await count_received() >= messages)

    await poll(all_stored, timeout=600)
    return messages / (time.perf_counter() - started), messages / handed


async def bench(messages: int, receipts: int, database_url: str | None) -> int:
    report = Report(f"Inbound and receipts from {PHONES} phones ({database_name(database_url)})")
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        async with sandbox_process(Path(tmp) / "sandbox") as (sandbox_url, control):
            for n in range(PHONES):
                await control.create_phone(CUSTOMER.format(n))
            async with running_gateway(
                database_url, Path(tmp) / "gateway", WAGATE_SANDBOX_URL=sandbox_url
            ) as gateway:
                database = gateway.database()
                try:
                    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
                        auth = await login(http)
                        sessions = [
                            await link_session(http, auth, BUSINESS.format(n))
                            for n in range(PHONES)
                        ]

                        async def received() -> int:
                            return await count(database, RECEIVED)

                        stored_rate, handed_rate = await inbound(control, received, messages)
                        report.figure("phones handed over", f"{handed_rate:,.0f} msg/s")
                        report.at_least(
                            "inbound stored with outbox events", stored_rate, 2000, "msg/s"
                        )

                        sent: list[list[str]] = [[] for _ in range(PHONES)]

                        async def send(index: int) -> None:
                            phone = index % PHONES
                            response = await http.post(
                                "/api/v1/messages/send",
                                json={"to": CUSTOMER.format(phone), "text": f"out {index}"},
                                headers={"x-api-key": sessions[phone]["apiKey"]},
                            )
                            response.raise_for_status()
                            sent[phone].append(response.json()["data"]["messageId"])

                        await run_concurrently(receipts, 32, send)

                    async def delivered() -> bool:
                        query = OUT_WITH_STATUS.format("delivered")
                        return await count(database, query) >= receipts

                    await poll(delivered, timeout=600)
                    reads = [(phone, mid) for phone, ids in enumerate(sent) for mid in ids]
                    started = time.perf_counter()

                    async def read(index: int) -> None:
                        phone, message_id = reads[index]
                        await control.read_messages(CUSTOMER.format(phone), [message_id])

                    await run_concurrently(len(reads), PHONE_CONCURRENCY, read)

                    async def all_read() -> bool:
                        query = OUT_WITH_STATUS.format("read")
                        return await count(database, query) >= receipts

                    await poll(all_read, timeout=600)
                    receipt_rate = receipts / (time.perf_counter() - started)
                    report.at_least("read receipts stored", receipt_rate, 2000, "receipts/s")
                finally:
                    await database.dispose()
    report.print()
    return report.missed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--receipts", type=int, default=640)
    database_url_argument(parser)
    args = parser.parse_args()
    asyncio.run(bench(args.messages, args.receipts, args.database_url))


if __name__ == "__main__":
    main()
