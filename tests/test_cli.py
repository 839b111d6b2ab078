"""The ``wagate`` command: migrate and user management against a real database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wagate.auth import passwords
from wagate.auth.repository import UserRepository
from wagate.cli import app
from wagate.config import Settings
from wagate.storage.db import Database


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WAGATE_DATABASE_URL", raising=False)
    return tmp_path


def _password_hash(email: str) -> str | None:
    async def _read() -> str | None:
        database = Database.from_settings(Settings())
        async with database.transaction() as db:
            user = await UserRepository(db).get_by_email(email)
        await database.dispose()
        return user.password_hash if user else None

    return asyncio.run(_read())


def test_migrate_then_create_a_user_and_change_its_password(data_dir: Path) -> None:
    runner = CliRunner()
    migrated = runner.invoke(app, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert (data_dir / "wagate.db").exists()

    created = runner.invoke(
        app,
        ["user", "create", "--email", "Ops@Example.com", "--password", "ops-pass-123", "--admin"],
    )
    assert created.exit_code == 0, created.output
    assert "created user ops@example.com" in created.output
    first_hash = _password_hash("ops@example.com")
    assert first_hash is not None

    again = runner.invoke(
        app, ["user", "create", "--email", "ops@example.com", "--password", "ops-pass-123"]
    )
    assert again.exit_code == 1
    assert "already exists" in again.output

    changed = runner.invoke(
        app, ["user", "set-password", "--email", "ops@example.com", "--password", "new-pass-456"]
    )
    assert changed.exit_code == 0, changed.output
    new_hash = _password_hash("ops@example.com")
    assert new_hash is not None and new_hash != first_hash
    assert asyncio.run(passwords.verify_password("new-pass-456", new_hash))


def test_python_dash_m_wagate_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wagate", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "migrate" in result.stdout
