"""Helpers for tests that drive the sandbox: an event sink to await, an engine to link."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from wagate.config import Settings
from wagate.engines.base import ConnectedEvent, EngineContext, EngineEvent, QrCodeEvent
from wagate.engines.sandbox.engine import SandboxEngine
from wagate.engines.sandbox.ports import SandboxControl

E = TypeVar("E")


class EventRecorder:
    """An :data:`~wagate.engines.base.EventSink` that keeps every event for a test to await.

    ``next`` takes the earliest event not taken yet that matches; the others stay
    for later calls, so events of several sessions can be awaited in any order."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self._taken: set[int] = set()
        self._arrived = asyncio.Condition()

    async def __call__(self, event: EngineEvent) -> None:
        async with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    async def next(
        self,
        kind: type[E],
        where: Callable[[E], bool] | None = None,
        *,
        within: float = 5.0,
    ) -> E:
        """The earliest untaken event of ``kind`` (matching ``where``), waiting for it."""

        async def find() -> E:
            start = 0
            async with self._arrived:
                while True:
                    for index in range(start, len(self.events)):
                        event = self.events[index]
                        if index in self._taken or not isinstance(event, kind):
                            continue
                        if where is None or where(event):
                            self._taken.add(index)
                            return event
                    start = len(self.events)
                    await self._arrived.wait()

        try:
            return await asyncio.wait_for(find(), within)
        except TimeoutError:
            seen = ", ".join(type(event).__name__ for event in self.events[-10:])
            raise AssertionError(f"no {kind.__name__} within {within}s (last: {seen})") from None

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]


@dataclass
class EngineHarness:
    """A sandbox engine as a gateway holds it: the engine, its events, the sandbox control."""

    engine: SandboxEngine
    events: EventRecorder
    data_dir: Path

    @classmethod
    async def open(cls, settings: Settings, data_dir: Path) -> EngineHarness:
        events = EventRecorder()
        engine = SandboxEngine(EngineContext(settings=settings, emit=events, data_dir=data_dir))
        await engine.open()
        return cls(engine, events, data_dir)

    @property
    def control(self) -> SandboxControl:
        return self.engine.control

    async def link(self, session_id: str, phone: str, name: str | None = None) -> ConnectedEvent:
        """Create the phone if needed, show a QR and scan it: the session is connected."""
        await self.control.create_phone(phone, name)
        await self.engine.start_session(session_id)
        qr = await self.events.next(QrCodeEvent, lambda e: e.session_id == session_id)
        await self.control.link_by_qr(phone, qr.code)
        return await self.events.next(ConnectedEvent, lambda e: e.session_id == session_id)
