"""All of wagate's settings, read once from the environment (prefix ``WAGATE_``)."""

from __future__ import annotations

import ipaddress
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from limits import parse as parse_limit
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from wagate.private_files import make_private_dir, write_private

_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "changethis"}
_MIN_SECRET_BYTES = 32


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAGATE_", env_file=None, extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    # A PostgreSQL schema to keep wagate's tables in (tests give each run its own).
    database_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    auto_migrate: bool = True
    host: str = "127.0.0.1"
    port: int = 3000
    public_url: str | None = None

    secret_key: str | None = None
    jwt_expires_minutes: int = Field(default=60 * 24 * 7, ge=1)
    admin_email: str = "admin@example.com"
    # The first administrator's username (logins accept it in place of the email).
    admin_username: str | None = "admin"
    admin_password: str | None = None
    allow_registration: bool = True
    # Other users' webhooks and media URLs may reach loopback and private
    # ranges, as the administrator's always may (docs/webhooks.md).
    allow_private_urls: bool = False
    # Link-local and cloud metadata addresses, for whoever may reach private ones.
    allow_link_local_urls: bool = False
    rate_limit_enabled: bool = True
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    engines: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["sandbox"])
    # Engines that run in a supervised child process (docs/whatsapp.md, "Engine host"):
    # a library that can abort its process (Go's fatal errors) never takes the gateway down.
    engine_hosted: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["whatsmeow"])
    engine_host_start_timeout: float = Field(default=60.0, gt=0)
    free_plan_sessions: int = Field(default=5, ge=0)
    reconnect_base_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_seconds: float = Field(default=60.0, gt=0)
    keepalive_seconds: float = Field(default=30.0, gt=0)

    send_wait_seconds: float = Field(default=5.0, ge=0)
    send_rate_per_minute: int = Field(default=0, ge=0)
    # Broadcasts (campaigns/): numbers without "+" are read in this region
    # (an ISO 3166 code for ``phonenumbers``); the words that opt a sender out.
    broadcast_default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    broadcast_opt_out_words: str = "STOP"
    broadcast_import_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # Each campaign's default pacing per sending session (0: no pacing).
    campaign_rate_per_minute: int = Field(default=20, ge=0)
    campaign_jitter_seconds: float = Field(default=3.0, ge=0)
    # Campaign messages a session may have waiting in its send queue at once.
    campaign_window: int = Field(default=20, ge=1)
    # How long the broadcaster face's start-session waits for the first QR code.
    broadcaster_qr_wait_seconds: float = Field(default=30.0, ge=0)
    max_image_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_video_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_audio_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_sticker_bytes: int = Field(default=1024 * 1024, gt=0)
    max_document_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    # Media sent as base64 inside JSON is parsed whole (the JSON text, the string,
    # the bytes), several times its size in memory: larger files go as multipart
    # or by URL, which stream.
    max_base64_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    media_fetch_timeout: float = Field(default=30.0, gt=0)

    sandbox_url: str | None = None
    sandbox_qr_interval: float = Field(default=20.0, gt=0)
    sandbox_qr_max_rotations: int = Field(default=6, ge=1)

    # Webhooks (docs/webhooks.md). Retry delays in seconds, the first being the
    # first attempt's; a comma-separated list in the environment.
    webhook_timeout: float = Field(default=8.0, gt=0)
    webhook_retry_delays: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [0.0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    )
    webhook_disable_after_hours: float = Field(default=120, gt=0)
    webhook_max_in_flight: int = Field(default=32, ge=1)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # Events a live-stream client may fall behind by before it is dropped.
    live_queue_size: int = Field(default=256, ge=1)
    # Socket.IO (the channel face): how often the server pings a client and how
    # long it waits for the answer; their sum is also how long a long-polling
    # request stays open with nothing to send (Socket.IO's defaults).
    socketio_ping_interval: float = Field(default=25.0, gt=0)
    socketio_ping_timeout: float = Field(default=20.0, gt=0)

    # Rate limits and analytics (docs/analytics.md). Each limit is "<n>/<period>"
    # as the `limits` library reads it ("100/minute", "5/second", "1000/hour").
    redis_url: str | None = None
    rate_limit_key_prefix: str = "wagate"
    rate_limit_user: str = "100/minute"
    rate_limit_session: str = "1000/minute"
    rate_limit_send: str = "100/minute"
    rate_limit_history: str = "50/minute"
    rate_limit_auth: str = "5/minute"
    rate_limit_webhooks: str = "10/minute"
    rate_limit_session_changes: str = "20/minute"
    # Browser origins allowed to call the API (CORS); none by default, "*" for any.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Addresses (IPs or CIDRs) of proxies whose X-Forwarded-For is believed.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_token: str | None = None
    analytics_flush_seconds: float = Field(default=5.0, gt=0)

    # The real WhatsApp engine (neonize / whatsmeow); see docs/whatsapp.md.
    whatsmeow_worker_threads: int = Field(default=64, ge=4)
    whatsmeow_connect_timeout: float = Field(default=20.0, gt=0)
    whatsmeow_probe_network: bool = True
    whatsmeow_proxy_url: str | None = None
    whatsmeow_device_name: str = "wagate"
    whatsmeow_log_level: str = "WARNING"
    whatsmeow_mark_online: bool = True  # send presence "available" once connected
    whatsmeow_history_sync: Literal["off", "recent", "full"] = "off"  # on link
    whatsmeow_history_days: int = Field(default=7, ge=1)  # what "recent" means

    @field_validator(
        "engines",
        "engine_hosted",
        "webhook_retry_delays",
        "trusted_proxies",
        "cors_origins",
        mode="before",
    )
    @classmethod
    def _lists_from_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("engines")
    @classmethod
    def _at_least_one_engine(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("WAGATE_ENGINES must name at least one engine")
        return value

    @field_validator("webhook_retry_delays")
    @classmethod
    def _valid_retry_delays(cls, value: list[float]) -> list[float]:
        if not value or any(delay < 0 for delay in value):
            raise ValueError("WAGATE_WEBHOOK_RETRY_DELAYS must list seconds >= 0, e.g. 0,5,300")
        return value

    @field_validator(
        "rate_limit_user",
        "rate_limit_session",
        "rate_limit_send",
        "rate_limit_history",
        "rate_limit_auth",
        "rate_limit_webhooks",
        "rate_limit_session_changes",
    )
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        try:
            parse_limit(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit such as 100/minute") from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"WAGATE_TRUSTED_PROXIES: {entry!r} is not an IP or CIDR") from exc
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_secret(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.lower() in _PLACEHOLDER_SECRETS or len(value.encode()) < _MIN_SECRET_BYTES:
            raise ValueError(
                f"WAGATE_SECRET_KEY must be at least {_MIN_SECRET_BYTES} bytes of random text; "
                "unset it to have one generated and kept in the data folder"
            )
        return value

    @property
    def base_url(self) -> str:
        """Where clients reach this server (for links in webhooks)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def max_media_bytes(self, kind: str) -> int:
        limits = {
            "image": self.max_image_bytes,
            "video": self.max_video_bytes,
            "audio": self.max_audio_bytes,
            "sticker": self.max_sticker_bytes,
        }
        return limits.get(kind, self.max_document_bytes)

    @property
    def default_engine(self) -> str:
        return self.engines[0]

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'wagate.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The instance secret: the configured one, or one generated once and kept on disk."""
        if self.secret_key:
            return self.secret_key
        make_private_dir(self.data_dir)
        path = self.data_dir / "secret.key"
        if path.exists():
            stored = path.read_text().strip()
            if len(stored.encode()) >= _MIN_SECRET_BYTES:
                return stored
        generated = secrets.token_urlsafe(48)
        write_private(path, generated.encode())
        return generated
