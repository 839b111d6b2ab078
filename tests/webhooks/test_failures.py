"""What failures do: retries and Retry-After, redirects, disabling, redelivery by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases

FAST = {
    "allow_private_urls": True,
    "webhook_retry_delays": "0,0.2,0.4",
    "webhook_poll_seconds": 0.5,
    # Slow QR rotation: linking never races a new code.
    "sandbox_qr_interval": 5.0,
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(FAST)


async def test_gone_disables_at_once_and_enabling_delivers_what_waited(
    client: httpx.AsyncClient,
    user: Any,
    linked: Any,
    say: Any,
    hooks: Any,
    make_receiver: Callable[..., Any],
) -> None:
    gone, watcher = make_receiver(), make_receiver()
    await gone.start()
    await watcher.start()
    gone.answers = [(410, {})]
    hook = await hooks.create(user.headers, linked.session_id, gone.url, ["message"])
    await hooks.create(user.headers, linked.session_id, watcher.url, ["*"])

    await say("are you there?")
    first = await gone.next()
    assert first.json["text"] == "are you there?"
    disabled = (await watcher.until("webhook.disabled")).json
    assert disabled["webhookId"] == hook["webhookId"]
    assert disabled["reason"] == "gone"
    webhook = await hooks.get(user.headers, hook["webhookId"])
    assert webhook["is_active"] is False
    assert webhook["disabled_reason"] == "gone"

    await say("while disabled")  # not owed: the endpoint said it is gone
    # Once the watcher has it, the relay has handed it out (to active webhooks only).
    while (await watcher.until("message.received")).json["text"] != "while disabled":
        pass
    enable = await client.put(
        f"/api/v1/webhooks/{hook['webhookId']}", json={"isActive": True}, headers=user.headers
    )
    assert enable.status_code == 200
    again = await gone.next()
    assert again.json["text"] == "are you there?"
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    await say("after")
    assert (await gone.next()).json["text"] == "after"
    assert (await hooks.get(user.headers, hook["webhookId"]))["failed_attempts"] == 0


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            **FAST,
            "webhook_retry_delays": "0,0.3,0.3,0.3,0.3,0.3",
            "webhook_disable_after_hours": 0.0002,
        }
    ],
)
async def test_an_endpoint_that_keeps_failing_is_disabled(
    user: Any, linked: Any, say: Any, hooks: Any, make_receiver: Callable[..., Any]
) -> None:
    failing, watcher = make_receiver(), make_receiver()
    await failing.start()
    await watcher.start()
    failing.answer = lambda _: (500, {})
    hook = await hooks.create(user.headers, linked.session_id, failing.url, ["message"])
    await hooks.create(user.headers, linked.session_id, watcher.url, ["webhook.disabled"])

    await say("hello?")
    disabled = (await watcher.until("webhook.disabled")).json
    assert disabled["webhookId"] == hook["webhookId"]
    assert disabled["reason"] == "failing"
    assert disabled["failedAttempts"] >= 2
    webhook = await hooks.get(user.headers, hook["webhookId"])
    assert webhook["is_active"] is False
    assert webhook["failed_attempts"] == disabled["failedAttempts"]
    [delivery] = await hooks.deliveries(user.headers, hook["webhookId"])
    assert delivery["status"] == "pending"  # still owed, should the endpoint come back


async def test_retry_after_is_honoured(
    user: Any, linked: Any, say: Any, hooks: Any, receiver: Any
) -> None:
    receiver.answers = [(429, {"Retry-After": "1"})]
    await hooks.create(user.headers, linked.session_id, receiver.url, ["message"])
    await say("slow down")
    await receiver.next()
    refused_at = time.monotonic()
    second = await receiver.next()
    # The schedule alone would have tried again after about 0.2 s.
    assert time.monotonic() - refused_at >= 0.9
    assert second.json["text"] == "slow down"


async def test_redirects_are_failures_and_are_not_followed(
    client: httpx.AsyncClient, user: Any, linked: Any, say: Any, hooks: Any, receiver: Any
) -> None:
    elsewhere = receiver.url.replace("/hook", "/elsewhere")

    def redirect_messages(request: Any) -> tuple[int, dict[str, str]]:
        if request.event == "message.received":
            return 302, {"Location": elsewhere}
        return 200, {}

    receiver.answer = redirect_messages
    hook = await hooks.create(user.headers, linked.session_id, receiver.url, ["message"])
    await say("follow me")
    for _ in range(3):  # every scheduled attempt, none of them followed
        request = await receiver.next()
        assert (request.path, request.event) == ("/hook", "message.received")
    await client.post(f"/api/v1/webhooks/{hook['webhookId']}/test", headers=user.headers)
    assert (await receiver.next()).path == "/hook"  # the test event: nothing went elsewhere

    [delivery] = await hooks.deliveries(user.headers, hook["webhookId"], status="failed")
    assert delivery["attempts"] == 3
    assert delivery["lastStatusCode"] == 302
    assert "not followed" in delivery["lastError"]
    assert elsewhere in delivery["lastError"]


async def test_a_delivery_can_be_sent_again_by_hand(
    client: httpx.AsyncClient, user: Any, linked: Any, say: Any, hooks: Any, receiver: Any
) -> None:
    receiver.answers = [(500, {})] * 3
    hook = await hooks.create(user.headers, linked.session_id, receiver.url, ["message"])
    webhook_id = hook["webhookId"]
    await say("one")
    first_tries = [await receiver.next() for _ in range(3)]
    await say("two")
    assert (await receiver.next()).json["text"] == "two"  # "one" gave up; the queue moved on

    [failed] = await hooks.deliveries(user.headers, webhook_id, status="failed")
    retried = await client.post(
        f"/api/v1/webhooks/{webhook_id}/deliveries/{failed['deliveryId']}/retry",
        headers=user.headers,
    )
    assert retried.status_code == 200, retried.text
    again = await receiver.next()
    assert again.json["text"] == "one"
    # Same event, same id: a receiver de-duplicates on it.
    assert again.headers["webhook-id"] == first_tries[0].headers["webhook-id"]
    assert again.json["id"] == first_tries[0].json["id"]
    hooks.assert_signed(again, hook["secret"])

    # A delivered one can be sent again too.
    [delivered] = [
        d
        for d in await hooks.deliveries(user.headers, webhook_id, status="succeeded")
        if d["eventId"] != failed["eventId"]
    ]
    await client.post(
        f"/api/v1/webhooks/{webhook_id}/deliveries/{delivered['deliveryId']}/retry",
        headers=user.headers,
    )
    assert (await receiver.next()).json["text"] == "two"
    missing = await client.post(
        f"/api/v1/webhooks/{webhook_id}/deliveries/{webhook_id}/retry", headers=user.headers
    )
    assert missing.status_code == 404


async def test_the_test_event_goes_to_that_webhook_only(
    client: httpx.AsyncClient,
    user: Any,
    linked: Any,
    hooks: Any,
    make_receiver: Callable[..., Any],
) -> None:
    tested, other = make_receiver(), make_receiver()
    await tested.start()
    await other.start()
    hook = await hooks.create(user.headers, linked.session_id, tested.url, ["*"])
    await hooks.create(user.headers, linked.session_id, other.url, ["*"])
    response = await client.post(f"/api/v1/webhooks/{hook['webhookId']}/test", headers=user.headers)
    assert response.status_code == 200
    event_id = response.json()["data"]["eventId"]
    request = await tested.until("webhook.test")
    assert request.json["id"] == event_id
    assert request.json["webhookId"] == hook["webhookId"]
    hooks.assert_signed(request, hook["secret"])
    await other.nothing_for(0.5)


@pytest.mark.parametrize("settings_overrides", [{**FAST, "webhook_retry_delays": "0,30,30"}])
async def test_a_poison_event_does_not_hold_back_the_ones_after_it(
    user: Any, linked: Any, say: Any, hooks: Any, receiver: Any
) -> None:
    """A receiver that chokes on one event: that event waits 30 s for its retry,
    the later ones go out at once and in order, and the webhook is not held."""

    def choke_on_poison(request: Any) -> tuple[int, dict[str, str]]:
        return (500, {}) if request.json["text"] == "poison" else (200, {})

    receiver.answer = choke_on_poison
    hook = await hooks.create(user.headers, linked.session_id, receiver.url, ["message"])
    await say("poison")
    poisoned = await receiver.next()
    assert poisoned.json["text"] == "poison"
    texts = [f"after the poison {n}" for n in range(5)]
    for text in texts:
        await say(text)
    arrived = [await receiver.next(timeout=5) for _ in texts]
    assert [r.json["text"] for r in arrived] == texts
    sequences = [poisoned.json["sequence"]] + [r.json["sequence"] for r in arrived]
    assert sequences == sorted(set(sequences))  # per session, growing with every event

    webhook = await hooks.get(user.headers, hook["webhookId"])
    assert webhook["is_active"] is True
    assert webhook["hold_until"] is None
    [poison] = await hooks.deliveries(user.headers, hook["webhookId"], status="pending")
    assert (poison["attempts"], poison["lastStatusCode"]) == (1, 500)
    assert poison["nextAttemptAt"] is not None
