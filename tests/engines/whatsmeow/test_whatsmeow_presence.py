"""A connected device marks itself available (so its receipts are active) unless told not
to; whatsmeow's refusal before it knows the push name is waited out."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from neonize.aioze.events import ConnectedEv, KeepAliveRestoredEv, KeepAliveTimeoutEv
from neonize.proto.Neonize_pb2 import Device

from wagate.engines.base import ConnectedEvent
from wagate.engines.whatsmeow.inbound import handle_inbound
from wagate.engines.whatsmeow.presence import mark_online
from wagate.engines.whatsmeow.runtime import SessionRun
from wagate.engines.whatsmeow.shared import Shared

LOGGER = "wagate.engines.whatsmeow.presence"


async def test_marking_online_reaches_whatsmeow(
    offline_runs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    run = await offline_runs(push_name="Shop")
    with caplog.at_level(logging.INFO, LOGGER):
        assert not await mark_online(run, waits=(0.01,))
    # whatsmeow took the call and failed on the missing socket, not on the push name
    assert "could not mark online" in caplog.text and "not connected" in caplog.text
    assert "no push name yet" not in caplog.text


async def test_without_a_push_name_it_tries_again(
    offline_runs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    run = await offline_runs(push_name="")
    with caplog.at_level(logging.INFO, LOGGER):
        assert not await mark_online(run, waits=(0.01, 0.01))
    assert caplog.text.count("no push name yet") == 3  # whatsmeow's own refusal, three times
    assert "never learnt its push name" in caplog.text


async def test_a_disconnected_run_does_not_try(offline_runs: Any) -> None:
    run = await offline_runs()
    run.connected = False
    assert not await mark_online(run)


async def connected_run(shared: Shared, recorder: Any, protos: Any) -> SessionRun:
    run = SessionRun(shared, "s1", handle_inbound)
    run.start_pump()
    device = Device(JID=protos.jid(protos.ME, device=17), PushName="Shop", Initialized=True)
    run.on_event(0, device)
    run.on_event(3, ConnectedEv(status=True))
    await recorder.wait_for(ConnectedEvent, "s1")
    return run


async def test_connecting_marks_online_once(shared: Shared, recorder: Any, protos: Any) -> None:
    run = await connected_run(shared, recorder, protos)
    first = run.marking_online
    assert first is not None
    run.on_event(4, KeepAliveTimeoutEv(ErrorCount=1, LastSuccess=0))
    run.on_event(5, KeepAliveRestoredEv())  # the same connection: presence still stands
    await recorder.wait_count(ConnectedEvent, "s1", 2)
    assert run.marking_online is first
    run.on_event(3, ConnectedEv(status=True))  # a new connection: say it again
    await recorder.wait_count(ConnectedEvent, "s1", 3)
    assert run.marking_online is not first
    await run.shutdown()


async def test_mark_online_false_keeps_quiet(shared: Shared, recorder: Any, protos: Any) -> None:
    shared.settings = shared.settings.model_copy(update={"whatsmeow_mark_online": False})
    run = await connected_run(shared, recorder, protos)
    assert run.marking_online is None
    await run.shutdown()
