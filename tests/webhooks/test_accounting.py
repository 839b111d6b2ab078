"""Webhook changes reach the activity log, and deliveries reach the metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_urls": True}


def _deliveries(exposition: str, outcome: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "wagate_webhook_deliveries_total" and sample.labels == {
                "outcome": outcome
            }:
                return float(sample.value)
    return 0.0


async def test_webhook_activity_and_delivery_metrics(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: Any,
    session_tools: Any,
    receiver: Any,
    hooks: Any,
) -> None:
    session = await session_tools.create(user.headers)
    created = await hooks.create(user.headers, session["sessionId"], receiver.url)
    webhook_id = created["webhookId"]
    await client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=user.headers)
    await receiver.until("webhook.test")

    # The attempt is counted just after the receiver answers; nothing is
    # written to the outbox then, so this one check polls, briefly.
    async with asyncio.timeout(10):
        while _deliveries((await client.get("/metrics")).text, "success") < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await client.put(
        f"/api/v1/webhooks/{webhook_id}", json={"isActive": False}, headers=user.headers
    )
    await client.delete(f"/api/v1/webhooks/{webhook_id}", headers=user.headers)
    logs = (await client.get("/api/v1/analytics/activity", headers=user.headers)).json()
    actions = [entry["action"] for entry in logs["data"]["logs"]]
    assert {"webhook.create", "webhook.update", "webhook.delete"} <= set(actions)
    [create] = [e for e in logs["data"]["logs"] if e["action"] == "webhook.create"]
    assert create["metadata"]["host"] == "127.0.0.1"
    assert receiver.url not in str(logs)  # the URL itself may carry a receiver's token
