"""Linking a gateway session to a sandbox phone: QR codes, pairing codes, resuming."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    LoggedOutEvent,
    PairingCodeEvent,
    QrCodeEvent,
)
from wagate.engines.sandbox.ids import PAIRING_ALPHABET
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.testing import EngineHarness

QR_SHAPE = re.compile(r"^2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+$")


async def test_scanning_the_shown_qr_links_the_session(gateway: EngineHarness) -> None:
    await gateway.control.create_phone("15550001111", "Alice")
    await gateway.engine.start_session("s1")
    qr = await gateway.events.next(QrCodeEvent)
    assert QR_SHAPE.match(qr.code)
    assert qr.expires_in == pytest.approx(0.2)
    assert not gateway.engine.is_linked("s1")

    linked = await gateway.control.link_by_qr("+1 555 000 1111", qr.code)
    assert linked == {"sessionId": "s1", "phone": "15550001111"}
    connected = await gateway.events.next(ConnectedEvent)
    assert connected == ConnectedEvent(
        "s1", "15550001111", push_name="Alice", jid="15550001111@s.whatsapp.net"
    )
    assert gateway.engine.is_linked("s1")
    phone = await gateway.control.get_phone("15550001111")
    assert phone["linkedSessions"] == [{"sessionId": "s1", "connected": True}]


async def test_a_wrong_or_old_qr_links_nothing(gateway: EngineHarness) -> None:
    await gateway.control.create_phone("15550001111")
    await gateway.engine.start_session("s1")
    first = await gateway.events.next(QrCodeEvent)
    second = await gateway.events.next(QrCodeEvent)
    assert first.code != second.code

    for bad in (first.code, "2@not,a,real,code"):
        with pytest.raises(SandboxError) as refused:
            await gateway.control.link_by_qr("15550001111", bad)
        assert (refused.value.code, refused.value.status) == ("VALIDATION_ERROR", 400)
    assert not gateway.engine.is_linked("s1")
    assert (await gateway.control.get_phone("15550001111"))["linkedSessions"] == []


async def test_qr_codes_rotate_a_bounded_number_of_times_then_time_out(
    gateway: EngineHarness,
) -> None:
    await gateway.engine.start_session("s1")
    timed_out = await gateway.events.next(DisconnectedEvent, within=5)
    assert timed_out == DisconnectedEvent(
        "s1", DisconnectReason.QR_TIMEOUT, will_retry=False, detail=timed_out.detail
    )
    codes = [event.code for event in gateway.events.of(QrCodeEvent)]
    assert len(codes) == 3  # sandbox_qr_max_rotations
    assert len(set(codes)) == 3
    await gateway.control.create_phone("15550001111")
    with pytest.raises(SandboxError):
        await gateway.control.link_by_qr("15550001111", codes[-1])


async def test_pairing_code_links_only_the_phone_it_was_asked_for(gateway: EngineHarness) -> None:
    await gateway.control.create_phone("15550001111", "Alice")
    await gateway.control.create_phone("15550002222", "Bob")
    code = await gateway.engine.request_pairing_code("s1", "+1 (555) 000-1111")
    assert len(code) == 8
    assert set(code) <= set(PAIRING_ALPHABET)
    shown = await gateway.events.next(PairingCodeEvent)
    assert shown == PairingCodeEvent("s1", code, "15550001111")

    with pytest.raises(SandboxError, match="another number"):
        await gateway.control.pair_by_code("15550002222", code)
    with pytest.raises(SandboxError, match="not valid"):
        await gateway.control.pair_by_code("15550001111", "ZZZZZZZZ")

    await gateway.control.pair_by_code("15550001111", f"{code[:4].lower()}-{code[4:].lower()}")
    connected = await gateway.events.next(ConnectedEvent)
    assert connected.phone_number == "15550001111"
    assert gateway.engine.is_linked("s1")
    assert gateway.events.of(QrCodeEvent) == []


async def test_a_linked_session_resumes_after_a_restart_without_a_qr(
    open_gateway: Callable[..., Awaitable[EngineHarness]],
) -> None:
    first = await open_gateway()
    await first.link("s1", "15550001111", "Alice")
    await first.engine.close()

    again = await open_gateway(first.data_dir)
    assert again.engine.is_linked("s1")
    await again.engine.start_session("s1")
    connected = await again.events.next(ConnectedEvent)
    assert connected.phone_number == "15550001111"
    assert connected.push_name == "Alice"
    assert again.events.of(QrCodeEvent) == []


async def test_the_phone_removing_the_device_logs_the_session_out(gateway: EngineHarness) -> None:
    await gateway.link("s1", "15550001111")
    await gateway.link("s2", "15550001111")

    assert await gateway.control.unlink("15550001111", "s1") == ["s1"]
    logged_out = await gateway.events.next(LoggedOutEvent)
    assert logged_out.session_id == "s1"
    assert logged_out.reason is DisconnectReason.LOGGED_OUT_BY_PHONE
    assert not gateway.engine.is_linked("s1")
    assert gateway.engine.is_linked("s2")

    # A session unlinked while away hears it on its next connection, not a QR.
    await gateway.engine.stop_session("s2")
    assert await gateway.control.unlink("15550001111") == ["s2"]
    await gateway.engine.start_session("s2")
    assert (await gateway.events.next(LoggedOutEvent)).session_id == "s2"
    await gateway.engine.start_session("s2")
    assert (await gateway.events.next(QrCodeEvent)).session_id == "s2"


async def test_logout_from_the_gateway_removes_the_link_on_the_phone(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", "15550001111")
    await gateway.engine.logout("s1")
    assert not gateway.engine.is_linked("s1")
    assert (await gateway.control.get_phone("15550001111"))["linkedSessions"] == []


async def test_starting_a_connected_session_again_repeats_that_it_is_connected(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", "15550001111")
    await gateway.engine.start_session("s1")
    assert (await gateway.events.next(ConnectedEvent)).session_id == "s1"
    assert len(gateway.events.of(QrCodeEvent)) == 1
