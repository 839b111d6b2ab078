"""Faults on request: dropped connections, a network outage, bans, rate limits, latency."""

from __future__ import annotations

import asyncio

import pytest

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    EngineContext,
    FailedEvent,
    NetworkError,
    NotConnectedError,
    OutgoingMessage,
    QrCodeEvent,
    RateLimitedError,
    ReceiptEvent,
    SessionBannedError,
)
from wagate.engines.sandbox.engine import SandboxEngine
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.testing import EngineHarness, EventRecorder

ALICE, BOB = "15550001111", "15550002222"


def hello(harness: EngineHarness) -> OutgoingMessage:
    return OutgoingMessage(harness.engine.new_message_id("s1"), BOB, "text", text="hello")


async def test_a_dropped_connection_is_reported_and_start_session_reconnects(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.disconnect("s1")
    dropped = await gateway.events.next(DisconnectedEvent)
    assert (dropped.reason, dropped.will_retry) == (DisconnectReason.NETWORK, False)
    with pytest.raises(NotConnectedError):
        await gateway.engine.send("s1", hello(gateway))
    with pytest.raises(SandboxError) as not_connected:
        await gateway.control.disconnect("s1")
    assert not_connected.value.code == "CONFLICT"

    await gateway.engine.start_session("s1")
    assert (await gateway.events.next(ConnectedEvent)).session_id == "s1"
    assert gateway.events.of(QrCodeEvent)[1:] == []


async def test_a_network_outage_drops_everyone_and_refuses_until_it_is_over(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", ALICE)
    await gateway.link("s2", BOB)
    await gateway.control.network_down()
    dropped = {(await gateway.events.next(DisconnectedEvent)).session_id for _ in range(2)}
    assert dropped == {"s1", "s2"}
    with pytest.raises(NetworkError):
        await gateway.engine.start_session("s1")
    assert (await gateway.control.status())["networkUp"] is False

    await gateway.control.network_up()
    await gateway.engine.start_session("s1")
    assert (await gateway.events.next(ConnectedEvent, lambda e: e.session_id == "s1")).jid


async def test_a_banned_account_fails_and_cannot_come_back(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    assert await gateway.control.ban(session_id="s1") == ALICE
    failed = await gateway.events.next(FailedEvent)
    assert (failed.session_id, failed.reason) == ("s1", DisconnectReason.BANNED)
    with pytest.raises(SessionBannedError):
        await gateway.engine.start_session("s1")
    with pytest.raises(SandboxError) as refused:
        await gateway.control.send_message(ALICE, {"to": BOB, "text": "hi"})
    assert refused.value.code == "FORBIDDEN"

    await gateway.control.unban(ALICE)
    await gateway.engine.start_session("s1")
    await gateway.events.next(ConnectedEvent, lambda e: e.session_id == "s1")


async def test_rate_limit_refuses_the_next_sends(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    await gateway.control.rate_limit("s1", count=2, retry_after=3)
    for _ in range(2):
        with pytest.raises(RateLimitedError) as limited:
            await gateway.engine.send("s1", hello(gateway))
        assert limited.value.retry_after == 3
        assert limited.value.temporary
    await gateway.engine.send("s1", hello(gateway))
    assert await gateway.control.list_messages(BOB)


async def test_latency_delays_every_delivery(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    await gateway.control.set_latency(300)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await gateway.engine.send("s1", hello(gateway))
    await gateway.events.next(ReceiptEvent)
    assert loop.time() - started >= 0.3
    with pytest.raises(SandboxError):
        await gateway.control.set_latency(-1)


async def test_a_second_engine_on_the_same_session_replaces_the_first(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", ALICE)
    assert gateway.engine.network is not None
    other_events = EventRecorder()
    network = gateway.engine.network
    other = SandboxEngine(
        EngineContext(network.settings, other_events, gateway.data_dir), network=network
    )
    await other.start_session("s1")
    replaced = await gateway.events.next(DisconnectedEvent)
    assert replaced.reason is DisconnectReason.STREAM_REPLACED
    assert (await other_events.next(ConnectedEvent)).phone_number == ALICE
