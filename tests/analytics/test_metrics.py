"""``GET /metrics``: Prometheus numbers that move with what the gateway does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from wagate.app import create_app
from wagate.config import Settings


async def test_metrics_move_with_traffic_messages_and_sessions(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    wait_until: Any,
    analytics: Any,
) -> None:
    m = analytics.metric
    linked = await session_tools.link(user.headers)
    idle = await session_tools.create(user.headers, name="Not linked")
    customer = await session_tools.phone(user.headers)
    before = await analytics.metrics()
    assert m(before, "wagate_sessions", state="connected") == 1
    assert m(before, "wagate_sessions", state="qr") + m(before, "wagate_sessions", state="pending")
    assert m(before, "wagate_outbound_queue_depth") == 0

    key = {"x-api-key": linked.api_key}
    ok = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "hi"}, headers=key
    )
    assert ok.json()["data"]["status"] == "sent"
    lost = await client.post(
        "/api/v1/messages/send", json={"to": "15550009999", "text": "hi"}, headers=key
    )
    assert lost.json()["data"]["status"] == "failed"
    # An unlinked session's sends wait in its queue.
    for _ in range(2):
        queued = await client.post(
            "/api/v1/messages/send",
            json={"to": customer, "text": "later"},
            headers={"x-api-key": idle["apiKey"]},
        )
        assert queued.json()["data"]["status"] == "queued"
    received = await client.post(
        f"/sandbox/v1/phones/{customer}/messages",
        json={"to": linked.phone, "text": "hello back"},
        headers=user.headers,
    )
    assert received.status_code == 201

    async def received_counted() -> bool:
        text = await analytics.metrics()
        return m(text, "wagate_messages_received_total", type="text") == 1

    await wait_until(received_counted, what="the received message to be counted")
    status_path = f"/api/v1/sessions/{linked.session_id}/status"
    assert (await client.get(status_path, headers=user.headers)).status_code == 200
    assert (await client.get("/api/v1/no/such/route")).status_code == 404
    app.state.metrics.observe_webhook_delivery("success", 0.2)
    app.state.metrics.observe_webhook_delivery("failure", 3.0)

    after = await analytics.metrics()
    assert m(after, "wagate_messages_sent_total", type="text") == 1
    assert m(after, "wagate_messages_failed_total", type="text") == 1
    assert m(after, "wagate_send_duration_seconds_count") == 2  # the refused send was timed too
    assert m(after, "wagate_outbound_queue_depth") == 2
    assert m(after, "wagate_webhook_deliveries_total", outcome="success") == 1
    assert m(after, "wagate_webhook_deliveries_total", outcome="failure") == 1
    assert m(after, "wagate_webhook_delivery_duration_seconds_count") == 2
    # Requests are counted by the route they matched, never by their raw path.
    route = "/api/v1/sessions/{session_id}/status"
    assert m(after, "wagate_http_requests_total", method="GET", route=route, status="200") >= 2
    assert m(after, "wagate_http_requests_total", route="<unmatched>", status="404") == 1
    assert linked.session_id not in after
    assert "/no/such/route" not in after
    assert m(after, "wagate_http_request_duration_seconds_count", method="GET", route=route) >= 2


@pytest.mark.parametrize(
    "settings_overrides", [{"metrics_token": "scrape-token-1234"}], indirect=True, ids=["token"]
)
async def test_metrics_can_require_a_token(client: httpx.AsyncClient, analytics: Any) -> None:
    missing = await client.get("/metrics")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "NO_TOKEN"
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "INVALID_TOKEN"
    text = await analytics.metrics({"Authorization": "Bearer scrape-token-1234"})
    assert "wagate_sessions" in text


async def test_each_app_keeps_its_own_numbers(settings: Settings, app: FastAPI) -> None:
    other = create_app(settings)
    app.state.metrics.message_sent("text")
    sent = ("wagate_messages_sent_total", {"type": "text"})
    assert app.state.metrics.registry.get_sample_value(*sent) == 1
    assert other.state.metrics.registry.get_sample_value(*sent) is None
