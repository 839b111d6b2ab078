"""A webhook's backlog goes out in batches: a worker claims the webhook's next
deliveries together, sends them one at a time in order, and records their
results in one transaction. A failure ends the batch: it is recorded before
anything more goes out, and what a hold stops is handed back unattempted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases

BACKLOG = 12


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "allow_private_urls": True,
        "webhook_retry_delays": "0,0.2,0.4",
        "webhook_poll_seconds": 0.5,
        "sandbox_qr_interval": 5.0,  # slow QR rotation: linking never races a new code
    }


@pytest.fixture
def all_succeeded(user: Any, hooks: Any, eventually: Any) -> Any:
    """The webhook's deliveries once every one is recorded as succeeded (a
    batch's results are recorded after its last request)."""

    async def _all_succeeded(webhook_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        async def done() -> bool:
            found[:] = await hooks.deliveries(user.headers, webhook_id, limit=100)
            return {d["status"] for d in found} == {"succeeded"}

        await eventually(done, "every delivery recorded as succeeded")
        return found

    return _all_succeeded


@pytest.fixture
def backlog(
    client: httpx.AsyncClient, user: Any, linked: Any, say: Any, hooks: Any, eventually: Any
) -> Any:
    """A webhook held (its first event answered 503 with a long Retry-After)
    while ``BACKLOG`` more events wait behind it; the receiver's next answers
    decide what the backlog meets. Returns the webhook and the texts in order.
    Letting go is a redelivery by hand of the first event (it ends the hold)."""

    async def _backlog(receiver: Any) -> tuple[str, list[str]]:
        hook = await hooks.create(user.headers, linked.session_id, receiver.url, ["message"])
        webhook_id = hook["webhookId"]
        await say("first")
        held = await receiver.next()
        assert held.json["text"] == "first"
        texts = [f"queued {n}" for n in range(BACKLOG)]
        for text in texts:
            await say(text)

        async def all_waiting() -> bool:
            pending = await hooks.deliveries(user.headers, webhook_id, status="pending")
            return len(pending) == BACKLOG + 1

        await eventually(all_waiting, f"{BACKLOG + 1} deliveries waiting")
        newest_first = await hooks.deliveries(user.headers, webhook_id, limit=BACKLOG + 1)
        first = newest_first[-1]
        retried = await client.post(
            f"/api/v1/webhooks/{webhook_id}/deliveries/{first['deliveryId']}/retry",
            headers=user.headers,
        )
        assert retried.status_code == 200, retried.text
        return webhook_id, ["first", *texts]

    return _backlog


async def test_a_backlog_is_sent_in_order_and_its_results_recorded_together(
    hooks: Any, user: Any, receiver: Any, backlog: Any, all_succeeded: Any
) -> None:
    receiver.answers = [(503, {"Retry-After": "3600"})]
    webhook_id, texts = await backlog(receiver)

    arrived = [await receiver.next() for _ in texts]
    assert [r.json["text"] for r in arrived] == texts

    found = await all_succeeded(webhook_id)
    queued = [d for d in found if d["attempts"] == 1]
    assert len(queued) == BACKLOG
    # One transaction records a batch: the queued events (claimed together
    # once the hold ended) share the time they were recorded at.
    finished = {d["finishedAt"] for d in queued}
    assert len(finished) < len(queued) / 2, finished
    for delivery in queued:
        [attempt] = delivery["history"]
        assert (attempt["statusCode"], attempt["error"]) == (200, None)
    webhook = await hooks.get(user.headers, webhook_id)
    assert (webhook["failed_attempts"], webhook["hold_until"]) == (0, None)


async def test_a_failure_ends_its_batch_and_the_events_after_it_keep_flowing(
    hooks: Any, user: Any, receiver: Any, backlog: Any, all_succeeded: Any
) -> None:
    """The fourth queued event chokes the receiver once: it waits for its
    retry while the rest of the backlog goes on in order."""
    poison = "queued 3"
    choked: list[str] = []

    def answer(request: Any) -> tuple[int, dict[str, str]]:
        if request.json["text"] == poison and not choked:
            choked.append(poison)
            return 500, {}
        return 200, {}

    receiver.answers = [(503, {"Retry-After": "3600"})]
    receiver.answer = answer
    webhook_id, texts = await backlog(receiver)

    arrived = [(await receiver.next()).json["text"] for _ in range(len(texts) + 1)]
    assert arrived.count(poison) == 2
    without_poison = [t for t in texts if t != poison]
    assert [t for t in arrived if t != poison] == without_poison
    assert arrived.index(poison) == texts.index(poison)  # its first, failed, attempt

    found = await all_succeeded(webhook_id)
    attempts = sorted(d["attempts"] for d in found)
    # "first" was tried twice (held, then by hand), the poison twice, the rest once.
    assert attempts == [1] * (len(texts) - 2) + [2, 2]


async def test_a_hold_hands_back_what_its_batch_did_not_send(
    hooks: Any, user: Any, receiver: Any, backlog: Any, all_succeeded: Any
) -> None:
    """A 429 in the middle of a batch holds the webhook: the rest of the batch
    is handed back without counting an attempt, and after the pause everything
    goes out in order, the refused event first."""
    receiver.answers = [
        (503, {"Retry-After": "3600"}),
        *[(200, {})] * 3,
        (429, {"Retry-After": "1"}),
    ]
    webhook_id, texts = await backlog(receiver)

    arrived = [(await receiver.next()).json["text"] for _ in range(len(texts) + 1)]
    refused = texts[3]
    assert arrived == [*texts[:4], refused, *texts[4:]]

    found = await all_succeeded(webhook_id)
    by_text_attempts = sorted(d["attempts"] for d in found)
    # "first" twice, the refused one twice, every other event once.
    assert by_text_attempts == [1] * (len(texts) - 2) + [2, 2]
