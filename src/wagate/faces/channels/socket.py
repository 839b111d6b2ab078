"""The notification-channel face's Socket.IO server at ``/socket.io/``
(python-socketio's ASGI server, mounted beside FastAPI; polling and WebSocket).

A socket first sends ``authenticate {apiKey}`` (a user key, a session key, or a
JWT: the one credential resolver) and gets ``authenticated`` or an ``error``
with the reason; until then it receives nothing else. ``subscribe_channel
{channelId}`` (only the caller's own channels) sends the channel's status as it
stands, its QR or pairing code if one is waiting, then every event as it is
committed: ``qr_code``, ``pairing_code``, ``connection_update``,
``incoming_message``, ``message_status_update``. The events come from the live
hub, the one outbox tail that feeds the WebSocket streams too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from wagate.auth import credentials, tokens
from wagate.config import Settings
from wagate.errors import AppError, ErrorCode
from wagate.faces.channels.events import channel_event
from wagate.lazy_imports import hidden_libraries, on_first_use
from wagate.live.feed import session_feed
from wagate.live.hub import LiveHub
from wagate.sessions import service as sessions_service
from wagate.storage.db import Database

# Only the ASGI server is used here. socketio's package imports its clients and
# Redis managers too, and with them aiohttp, requests and redis (about 20 MB at
# start): they are hidden while it imports, then the clients get their library
# back, imported on first use. Its Redis managers stay without redis (unused:
# wagate's own Redis use imports it itself).
with hidden_libraries("aiohttp", "requests", "redis", "valkey"):
    import engineio
    import engineio.async_client
    import engineio.client
    import socketio
engineio.async_client.aiohttp = on_first_use("aiohttp")
engineio.client.requests = on_first_use("requests")

logger = logging.getLogger(__name__)

SOCKETIO_PATH = "socket.io"


@dataclass
class Connection:
    """What one socket proved and follows."""

    credential: str | None = None
    subscriptions: dict[uuid.UUID, asyncio.Task[None]] = field(default_factory=dict)


def _credential_kwargs(credential: str) -> dict[str, str | None]:
    if credential.startswith((tokens.USER_KEY_PREFIX, tokens.SESSION_KEY_PREFIX)):
        return {"token": None, "api_key": credential}
    return {"token": credential, "api_key": None}


class _EngineWithoutCorsHeaders(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO that checks a request's origin but leaves the CORS headers to
    the app's CORS middleware (``WAGATE_CORS_ORIGINS``), which adds them to
    every response, this one's too: sent twice, browsers would refuse both."""

    def _cors_headers(self, environ: dict[str, Any]) -> list[tuple[str, str]]:
        return []


class _Server(socketio.AsyncServer):  # type: ignore[misc]
    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return _EngineWithoutCorsHeaders


class ChannelSocket:
    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        server_class = _Server if settings.cors_origins else socketio.AsyncServer
        self.server = server_class(
            async_mode="asgi",
            cors_allowed_origins=self._origin_allowed,
            ping_interval=settings.socketio_ping_interval,
            ping_timeout=settings.socketio_ping_timeout,
            logger=False,
            engineio_logger=False,
        )
        self._connections: dict[str, Connection] = {}
        self.server.on("connect", self._on_connect)
        self.server.on("disconnect", self._on_disconnect)
        self.server.on("authenticate", self._on_authenticate)
        self.server.on("subscribe_channel", self._on_subscribe)
        self.server.on("unsubscribe_channel", self._on_unsubscribe)

    def asgi_app(self) -> socketio.ASGIApp:
        return socketio.ASGIApp(self.server, socketio_path=SOCKETIO_PATH)

    def _origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """This origin (the seed's page served by the gateway), and the browser
        origins ``WAGATE_CORS_ORIGINS`` allows (the seed's ``FRONTEND_URL``)."""
        if origin is None:
            return True  # not a browser's cross-origin request
        allowed = self._settings.cors_origins
        if "*" in allowed or origin in allowed:
            return True
        return urlsplit(origin).netloc.lower() == str(environ.get("HTTP_HOST", "")).lower()

    @property
    def _database(self) -> Database:
        database: Database = self._app.state.database
        return database

    async def _principal(self, credential: str) -> tuple[credentials.Principal, list[str]]:
        async with self._database.transaction() as db:
            principal = await credentials.resolve(
                db, **_credential_kwargs(credential), secret=self._settings.resolved_secret_key
            )
            if principal.session is not None:
                channels = [str(principal.session.id)]
            else:
                owned = await sessions_service.list_owned(db, principal.user)
                channels = [str(s.id) for s in owned]
        return principal, channels

    async def _error(self, sid: str, event: str, code: str, message: str) -> dict[str, Any]:
        error = {"event": event, "code": code, "message": message}
        await self.server.emit("error", error, to=sid)
        return {"ok": False, **error}

    # -- handlers ------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self._connections[sid] = Connection()

    async def _on_disconnect(self, sid: str, *_: Any) -> None:
        connection = self._connections.pop(sid, None)
        if connection is None:
            return
        tasks = list(connection.subscriptions.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _on_authenticate(self, sid: str, data: Any = None) -> dict[str, Any]:
        connection = self._connections.setdefault(sid, Connection())
        credential = data.get("apiKey") if isinstance(data, dict) else None
        if not isinstance(credential, str) or not credential:
            return await self._error(
                sid, "authenticate", ErrorCode.NO_API_KEY, "apiKey is required"
            )
        try:
            principal, channels = await self._principal(credential)
        except AppError as exc:
            return await self._error(sid, "authenticate", exc.code, exc.message)
        connection.credential = credential
        answer = {
            "userId": str(principal.user.id),
            "kind": principal.kind.value,
            "channels": channels,
        }
        await self.server.emit("authenticated", answer, to=sid)
        return {"ok": True, **answer}

    async def _on_subscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        connection = self._connections.get(sid)
        event = "subscribe_channel"
        if connection is None or connection.credential is None:
            return await self._error(sid, event, ErrorCode.NO_TOKEN, "Authenticate first")
        channel_id = data.get("channelId") if isinstance(data, dict) else None
        if not isinstance(channel_id, str) or not channel_id:
            return await self._error(
                sid, event, ErrorCode.VALIDATION_ERROR, "channelId is required"
            )
        try:
            async with self._database.transaction() as db:
                principal = await credentials.resolve(
                    db,
                    **_credential_kwargs(connection.credential),
                    secret=self._settings.resolved_secret_key,
                )
                session = await credentials.session_by_reference(db, principal, channel_id)
        except AppError as exc:
            if exc.code in (ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND):
                return await self._error(sid, event, ErrorCode.NOT_FOUND, "Channel not found")
            return await self._error(sid, event, exc.code, exc.message)
        if session.id not in connection.subscriptions:
            task = asyncio.create_task(self._follow(sid, session.id), name=f"socketio-{sid}")
            connection.subscriptions[session.id] = task
        return {"ok": True, "channelId": str(session.id)}

    async def _on_unsubscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        connection = self._connections.get(sid)
        channel_id = data.get("channelId") if isinstance(data, dict) else None
        task = None
        if connection is not None and isinstance(channel_id, str):
            with contextlib.suppress(ValueError):
                task = connection.subscriptions.pop(uuid.UUID(channel_id), None)
        if task is not None:
            task.cancel()
        return {"ok": task is not None}

    async def _follow(self, sid: str, session_id: uuid.UUID) -> None:
        hub: LiveHub = self._app.state.live_hub
        try:
            async with session_feed(hub, self._database, session_id) as feed:
                async for message in feed.messages():
                    translated = channel_event(session_id, message["type"], message["data"])
                    if translated is not None:
                        name, payload = translated
                        await self.server.emit(name, payload, to=sid)
                if feed.overflowed:
                    await self._error(
                        sid,
                        "subscribe_channel",
                        ErrorCode.SERVICE_UNAVAILABLE,
                        "Too slow: fell behind the channel's events; subscribe again",
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("socket.io subscription of %s to %s ended", sid, session_id)
        finally:
            connection = self._connections.get(sid)
            if connection is not None:
                current = connection.subscriptions.get(session_id)
                if current is asyncio.current_task():
                    del connection.subscriptions[session_id]
