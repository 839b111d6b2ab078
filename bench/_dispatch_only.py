"""The webhook dispatcher alone, in process: N deliveries of one webhook waiting,
a receiver on loopback (uvicorn, in this process, answering 200 at once), and
the time the dispatcher takes to drain them. For profiling and for
comparing changes to the dispatcher; ``webhook_throughput.py`` is the benchmark.

    .venv/bin/python bench/_dispatch_only.py [--deliveries 2000] [--webhooks 1]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from _gateway import free_port

from wagate.auth.models import User
from wagate.config import Settings
from wagate.sessions.models import WhatsAppSession
from wagate.storage.base import utcnow
from wagate.storage.db import Database
from wagate.storage.migrate import migrate
from wagate.webhooks.crypto import encrypt_secret
from wagate.webhooks.dispatcher import WebhookDispatcher
from wagate.webhooks.models import Webhook, WebhookDelivery
from wagate.webhooks.signing import generate_secret


class Sink:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.done = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.count += 1
        if self.count >= self.expected:
            self.done.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def run(deliveries: int, webhooks: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="wagate-dispatch-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'w.db'}"
        settings = Settings(
            database_url=url, data_dir=Path(tmp), secret_key="x" * 40, webhook_timeout=30
        )
        database = Database(url)
        await migrate(database)
        sink = Sink(deliveries * webhooks)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(sink, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        serving = asyncio.create_task(server.serve())
        now = utcnow()
        async with database.transaction() as db:
            user = User(email="a@example.com", password_hash="-", is_admin=True)  # noqa: S106
            db.add(user)
            await db.flush()
            for w in range(webhooks):
                session = WhatsAppSession(
                    user_id=user.id,
                    name=f"s{w}",
                    engine="sandbox",
                    api_key_hash=uuid.uuid4().hex,
                    api_key_last_four="abcd",
                )
                db.add(session)
                await db.flush()
                webhook = Webhook(
                    user_id=user.id,
                    session_id=session.id,
                    url=f"http://127.0.0.1:{port}/hook",
                    events=["*"],
                    secret_encrypted=encrypt_secret(
                        generate_secret(), settings.resolved_secret_key
                    ),
                )
                db.add(webhook)
                await db.flush()
                for n in range(deliveries):
                    db.add(
                        WebhookDelivery(
                            webhook_id=webhook.id,
                            user_id=user.id,
                            event_seq=n + 1 + w * deliveries,
                            event_id=uuid.uuid4(),
                            event_type="message.received",
                            payload={"event": "message.received", "text": f"m {n}", "n": n},
                            status="pending",
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
        while not server.started:  # noqa: ASYNC110 - uvicorn has no event for "listening"
            await asyncio.sleep(0.01)
        dispatcher = WebhookDispatcher(database, settings)
        started = time.monotonic()
        await dispatcher.start()
        await asyncio.wait_for(sink.done.wait(), 600)
        seconds = time.monotonic() - started
        await dispatcher.close()
        server.should_exit = True
        await serving
        await database.dispose()
        total = deliveries * webhooks
        print(
            f"{total} deliveries to {webhooks} webhook(s) in {seconds:.2f} s: "
            f"{total / seconds:,.0f} /s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.deliveries, args.webhooks, args.database_url))


if __name__ == "__main__":
    main()
