"""Hostile receivers: endpoints that fail in every way a real one does, side by
side on one session with a healthy one. Each is treated as docs/webhooks.md
says, and none of them slows the healthy endpoint down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from tests.raw_http import RawReceiver, read_request_body

pytestmark = pytest.mark.both_databases

TIMEOUT = 2.0
# Prompt for a healthy endpoint, even on a loaded 2-core machine: well under the
# hostile endpoints' timeout and retry delays, which would show if they blocked it.
PROMPT = 1.5
MESSAGES = 4


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "allow_private_urls": True,
        "webhook_timeout": TIMEOUT,
        "webhook_retry_delays": "0,0.3,0.3,0.3",
        "webhook_poll_seconds": 0.2,
    }


@dataclass
class RawEndpoint(RawReceiver):
    """A receiver below HTTP libraries, for what they would not do: hang, break
    off mid-body, answer slowly. Counts the requests it reads."""

    behaviour: str
    requests: asyncio.Queue[float] = field(default_factory=asyncio.Queue)
    _handlers: set[asyncio.Task[Any]] = field(default_factory=set)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for handler in self._handlers:  # a hanging answer ends with the test
                handler.cancel()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while True:
                await read_request_body(reader)
                self.requests.put_nowait(time.monotonic())
                if self.behaviour == "hang":
                    await asyncio.sleep(3600)
                elif self.behaviour == "close-mid-body":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                    await writer.drain()
                    break
                else:  # slow: answers, but takes its time
                    await asyncio.sleep(TIMEOUT / 3)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._handlers.discard(handler)


@pytest.fixture
async def raw_endpoint() -> AsyncIterator[Callable[[str], RawEndpoint]]:
    made: list[RawEndpoint] = []

    def _make(behaviour: str) -> RawEndpoint:
        made.append(RawEndpoint(behaviour))
        return made[-1]

    yield _make
    for endpoint in made:
        await endpoint.stop()


async def test_hostile_endpoints_fail_as_documented_and_never_slow_a_healthy_one(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    hooks: Any,
    make_receiver: Callable[..., Any],
    raw_endpoint: Callable[[str], RawEndpoint],
    eventually: Any,
) -> None:
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)

    healthy = make_receiver()
    failing = make_receiver(answer=lambda _: (500, {}))
    throttling = make_receiver(answers=[(429, {"Retry-After": "1"})])
    gone = make_receiver(answer=lambda _: (410, {}))
    redirecting = make_receiver(
        answer=lambda _: (302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    for receiver in (healthy, failing, throttling, gone, redirecting):
        await receiver.start()
    hanging, breaking, slow = (raw_endpoint(b) for b in ("hang", "close-mid-body", "slow"))
    for endpoint in (hanging, breaking, slow):
        await endpoint.start()

    urls = {
        "healthy": healthy.url,
        "failing": failing.url,
        "throttling": throttling.url,
        "gone": gone.url,
        "redirecting": redirecting.url,
        "hanging": hanging.url,
        "breaking": breaking.url,
        "slow": slow.url,
    }
    ids = {
        name: (await hooks.create(user.headers, linked.session_id, url, ["message"]))["webhookId"]
        for name, url in urls.items()
    }

    delays = []
    for n in range(MESSAGES):
        sent_at = time.monotonic()
        response = await client.post(
            f"/sandbox/v1/phones/{customer}/messages",
            json={"to": linked.phone, "text": f"hello {n}"},
            headers=user.headers,
        )
        assert response.status_code == 201, response.text
        arrived = await healthy.next(timeout=5)
        delays.append(time.monotonic() - sent_at)
        assert arrived.json["text"] == f"hello {n}"
        await asyncio.sleep(0.3)  # a steady trickle, while the others misbehave
    assert max(delays) < PROMPT, f"the healthy endpoint waited: {delays}"

    async def state(name: str) -> dict[str, Any]:
        webhook = await hooks.get(user.headers, ids[name])
        deliveries = await hooks.deliveries(user.headers, ids[name], limit=100)
        return {"webhook": webhook, "deliveries": deliveries}

    def errors(found: dict[str, Any]) -> set[str]:
        return {attempt["error"] or "" for d in found["deliveries"] for attempt in d["history"]} - {
            ""
        }

    async def all_delivered(name: str) -> bool:
        found = await state(name)
        statuses = [d["status"] for d in found["deliveries"]]
        return len(statuses) == MESSAGES and set(statuses) == {"succeeded"}

    # Slow but within the timeout: a success. Throttled: held for the
    # Retry-After, then everything arrives.
    await eventually(lambda: all_delivered("slow"), "the slow endpoint", timeout=15)
    await eventually(lambda: all_delivered("throttling"), "the throttled endpoint", timeout=15)
    first, second = throttling.received.get_nowait(), throttling.received.get_nowait()
    assert first.json["text"] == second.json["text"] == "hello 0"
    [retried] = [d for d in (await state("throttling"))["deliveries"] if d["attempts"] == 2]
    tried, again = (datetime.fromisoformat(a["attemptedAt"]) for a in retried["history"])
    assert (again - tried).total_seconds() >= 0.95  # Retry-After: 1, not the 0.3 s schedule

    # 410: disabled at once, after one request; what it was owed stays pending.
    gone_state = await state("gone")
    assert gone_state["webhook"]["is_active"] is False
    assert gone_state["webhook"]["disabled_reason"] == "gone"
    assert gone.received.qsize() == 1

    # 500, a hang past the timeout, a connection broken mid-body, a redirect to a
    # private address: failures, retried on the schedule, then held as down.
    async def down(name: str) -> bool:
        found = await state(name)
        return bool(found["webhook"]["failed_attempts"] >= 3 and found["webhook"]["is_active"])

    for name in ("failing", "hanging", "breaking", "redirecting"):
        await eventually(lambda name=name: down(name), f"{name} to be down", timeout=15)
        found = await state(name)
        assert not any(d["status"] == "succeeded" for d in found["deliveries"]), name
    assert {d["lastStatusCode"] for d in (await state("failing"))["deliveries"]} <= {500, None}
    assert f"timed out after {TIMEOUT:g}s" in errors(await state("hanging"))
    assert any("RemoteProtocolError" in e for e in errors(await state("breaking")))
    redirect_errors = errors(await state("redirecting"))
    assert all("not followed" in e and "169.254.169.254" in e for e in redirect_errors)
    # The hanging endpoint got one request at a time, never a pile of them.
    assert hanging.requests.qsize() <= (await state("hanging"))["webhook"]["failed_attempts"] + 1
