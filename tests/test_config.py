"""Settings: defaults, the instance secret, and refusing unsafe values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from wagate.config import Settings


def test_defaults_serve_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.port == 3000
    assert settings.host == "127.0.0.1"
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'wagate.db'}"
    assert settings.engines == ["sandbox"]
    assert settings.allow_registration is True
    assert settings.allow_private_urls is False


def test_environment_is_read_with_the_wagate_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAGATE_PORT", "4100")
    monkeypatch.setenv("WAGATE_ENGINES", "sandbox, whatsmeow")
    monkeypatch.setenv("WAGATE_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    settings = Settings(data_dir=tmp_path)
    assert settings.port == 4100
    assert settings.engines == ["sandbox", "whatsmeow"]
    assert settings.default_engine == "sandbox"
    assert settings.resolved_database_url == "postgresql+asyncpg://u@h/db"


def test_whatsmeow_runs_hosted_unless_the_environment_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings(data_dir=tmp_path).engine_hosted == ["whatsmeow"]
    monkeypatch.setenv("WAGATE_ENGINE_HOSTED", "sandbox, whatsmeow")
    assert Settings(data_dir=tmp_path).engine_hosted == ["sandbox", "whatsmeow"]
    monkeypatch.setenv("WAGATE_ENGINE_HOSTED", "")
    assert Settings(data_dir=tmp_path).engine_hosted == []


def test_the_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key
    second = Settings(data_dir=tmp_path).resolved_secret_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("weak", ["short", "changeme", "x" * 31])
def test_a_short_or_placeholder_secret_is_refused_with_a_clear_message(weak: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(secret_key=weak)
