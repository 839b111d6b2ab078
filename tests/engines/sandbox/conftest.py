"""An in-process sandbox engine per test, with its events recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from wagate.config import Settings
from wagate.engines.sandbox.testing import EngineHarness

HarnessFactory = Callable[..., Awaitable[EngineHarness]]


@pytest.fixture
def sandbox_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", sandbox_qr_interval=0.2, sandbox_qr_max_rotations=3)


@pytest.fixture
async def open_gateway(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[HarnessFactory]:
    """Open an engine on a data folder; opening one on the same folder again is a restart."""
    opened: list[EngineHarness] = []

    async def open_one(data_dir: Path | None = None, **settings: object) -> EngineHarness:
        harness = await EngineHarness.open(
            sandbox_settings.model_copy(update=settings), data_dir or tmp_path / "data"
        )
        opened.append(harness)
        return harness

    yield open_one
    for harness in opened:
        await harness.engine.close()


@pytest.fixture
async def gateway(open_gateway: HarnessFactory) -> EngineHarness:
    return await open_gateway()
