"""The engines a gateway runs, by name, and which engine drives which session."""

from __future__ import annotations

import logging
import uuid

from wagate.engines.base import Engine
from wagate.errors import AppError, ErrorCode

logger = logging.getLogger(__name__)


class EngineRegistry:
    def __init__(self) -> None:
        self.engines: dict[str, Engine] = {}
        # Which engine a session was last started on, so work done outside a
        # transaction (an incoming message's media) finds it without a query.
        self._driving: dict[uuid.UUID, str] = {}

    def add(self, engine: Engine) -> None:
        self.engines[engine.name] = engine

    def engine(self, name: str) -> Engine:
        try:
            return self.engines[name]
        except KeyError:
            raise AppError(
                ErrorCode.SERVICE_UNAVAILABLE, f"The {name!r} engine is not enabled on this server"
            ) from None

    def get(self, name: str) -> Engine | None:
        return self.engines.get(name)

    def drives(self, session_id: uuid.UUID, engine_name: str) -> None:
        self._driving[session_id] = engine_name

    def driving(self, session_id: uuid.UUID) -> str | None:
        return self._driving.get(session_id)

    def forget(self, session_id: uuid.UUID) -> None:
        self._driving.pop(session_id, None)

    async def open(self) -> None:
        for engine in self.engines.values():
            await engine.open()

    async def close(self) -> None:
        for engine in self.engines.values():
            try:
                await engine.close()
            except Exception:
                logger.exception("engine %s did not close cleanly", engine.name)
