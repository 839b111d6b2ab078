"""Request rate limits (the `limits` library, moving window).

Counters live in memory, or in Redis when ``WAGATE_REDIS_URL`` is set so that
several gateway processes share them. The limits, each a setting:

* ``user``: requests per user on Bearer-token endpoints;
* ``session``: requests per session on API-key endpoints, within which
  ``send`` and ``history``;
* ``auth``: register and login, per client address;
* ``webhooks``: creating a webhook, and ``session_changes``: POST, PUT, PATCH
  and DELETE under the sessions routes, per user, on top of ``user``.

Which routes of a face are sends, logins, history reads and session changes
each face declares once (``faces/<face>`` ``RouteLimits``); the same limits and
counters serve every face. :func:`include_router` wires them in: every route of
a mounted face gets one dependency that depends on the same auth dependency its
endpoint uses (FastAPI resolves that once per request), so the key is the user
or session the request authenticated as, and routers carry nothing about limits.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from wagate import deps
from wagate.analytics.metrics import Metrics
from wagate.config import Settings
from wagate.errors import AppError, ErrorCode
from wagate.faces.base import Face, Faces
from wagate.faces.channels import credentials as channel_credentials

if TYPE_CHECKING:  # redis is imported only when a Redis URL is set (it weighs ~20 MB)
    from redis.asyncio import ConnectionPool

logger = logging.getLogger(__name__)

HEADERS_STATE = "rate_limit_headers"  # where a request's X-RateLimit-* headers wait
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Limit(enum.StrEnum):
    USER = "user"
    SESSION = "session"
    SEND = "send"
    HISTORY = "history"
    AUTH = "auth"
    WEBHOOKS = "webhooks"
    SESSION_CHANGES = "session_changes"


@dataclass(frozen=True, slots=True)
class Outcome:
    allowed: bool
    limit: Limit
    amount: int
    remaining: int
    reset: float  # epoch seconds when the oldest counted request leaves the window

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.amount),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset)),
        }


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        items: dict[Limit, RateLimitItem],
        pool: ConnectionPool | None = None,
    ) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.items = items
        self._pool = pool
        self._storage_warned_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        items = {limit: parse(getattr(settings, f"rate_limit_{limit.value}")) for limit in Limit}
        if not settings.redis_url:
            return cls(MemoryStorage(), items)
        from redis.asyncio import ConnectionPool

        # Our own pool, so shutting down closes its connections.
        pool = ConnectionPool.from_url(settings.redis_url)
        client_options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=f"{settings.rate_limit_key_prefix}:ratelimit",
            wrap_exceptions=True,
            **client_options,
        )
        return cls(storage, items, pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(self, checks: list[tuple[Limit, str]]) -> Outcome | None:
        """Count one request against each ``(limit, key)`` in turn and stop at the
        first that refuses it. Returns that refusal, or the limit closest to
        running out (what the headers report), or ``None`` if the store is down."""
        tightest: Outcome | None = None
        try:
            for limit, key in checks:
                item = self.items[limit]
                allowed = await self.strategy.hit(item, limit.value, key)
                stats = await self.strategy.get_window_stats(item, limit.value, key)
                outcome = Outcome(allowed, limit, item.amount, stats.remaining, stats.reset_time)
                if not allowed:
                    return outcome
                if tightest is None or outcome.remaining < tightest.remaining:
                    tightest = outcome
        except StorageError:
            # A rate-limit store that is down must not take the API down with it.
            now = time.monotonic()
            if now - self._storage_warned_at > 60:
                self._storage_warned_at = now
                logger.warning("rate-limit store unreachable; requests are not limited")
            return None
        return tightest


def _checks(
    request: Request, *, user_id: str | None, session_id: str | None, by_key: bool
) -> list[tuple[Limit, str]]:
    """The limits a request counts against: the narrow ones for its route first
    (so a refused send does not also use up the session's general allowance)."""
    route = request.scope.get("route")
    path: str = getattr(route, "path", request.url.path)
    faces: Faces = request.app.state.faces
    face = faces.for_path(path)
    if face is None:
        return []
    rules = face.limits
    method = request.method
    # A send through a face that names no session in its path (it is chosen by
    # the body) counts against its user's send allowance.
    sender = session_id or user_id
    checks: list[tuple[Limit, str]] = []
    is_send = path.startswith(rules.send_prefixes)
    if sender and is_send:
        checks.append((Limit.SEND, sender))
    if session_id and path in rules.history:
        checks.append((Limit.HISTORY, session_id))
    if user_id and method == "POST" and path in rules.webhooks:
        checks.append((Limit.WEBHOOKS, user_id))
    changes = rules.session_changes_prefix
    if (
        user_id
        and method in _CHANGES
        and changes
        and path.startswith(changes)
        and not is_send
        and path not in rules.reads
    ):
        checks.append((Limit.SESSION_CHANGES, user_id))
    if by_key and session_id:
        checks.append((Limit.SESSION, session_id))
    elif user_id:
        checks.append((Limit.USER, user_id))
    elif path in rules.auth:
        checks.append((Limit.AUTH, deps.client_address(request) or "unknown"))
    return checks


async def _enforce(
    request: Request, *, user_id: str | None, session_id: str | None, by_key: bool
) -> None:
    checks = _checks(request, user_id=user_id, session_id=session_id, by_key=by_key)
    if not checks:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    outcome = await limiter.hit(checks)
    if outcome is None:
        return
    headers = outcome.headers()
    if not outcome.allowed:
        metrics: Metrics = request.app.state.metrics
        metrics.rate_limit_refused(outcome.limit.value)
        retry_after = max(1, math.ceil(outcome.reset - time.time()))
        raise AppError(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            f"Too many requests ({outcome.limit.value} limit: {limiter.items[outcome.limit]}); "
            f"retry in {retry_after} s",
            headers={**headers, "Retry-After": str(retry_after)},
        )
    request.scope.setdefault("state", {})[HEADERS_STATE] = headers


# One dependency per way of authenticating. Each depends on the endpoint's own
# auth dependency, which FastAPI then resolves once for both.


async def _by_user(request: Request, user: deps.CurrentUser) -> None:
    await _enforce(request, user_id=str(user.id), session_id=None, by_key=False)


async def _by_user_or_key(request: Request, user: deps.UserByTokenOrKey) -> None:
    await _enforce(request, user_id=str(user.id), session_id=None, by_key=False)


async def _by_api_session(request: Request, session: deps.ApiSession) -> None:
    await _enforce(request, user_id=str(session.user_id), session_id=str(session.id), by_key=True)


async def _by_session_or_user(request: Request, session: deps.SessionByKeyOrToken) -> None:
    # The same choice get_session_by_key_or_token makes: a key wins over a token.
    by_key = bool(request.headers.get("x-api-key"))
    await _enforce(request, user_id=str(session.user_id), session_id=str(session.id), by_key=by_key)


async def _by_principal(request: Request, principal: deps.Authenticated) -> None:
    session = principal.session  # a session key's own session
    await _enforce(
        request,
        user_id=str(principal.user.id),
        session_id=str(session.id) if session else None,
        by_key=session is not None,
    )


async def _by_face_session(
    request: Request, session: deps.FaceSession, principal: deps.Authenticated
) -> None:
    await _enforce(
        request, user_id=str(session.user_id), session_id=str(session.id), by_key=principal.by_key
    )


async def _by_channel_principal(
    request: Request, principal: channel_credentials.ChannelPrincipal
) -> None:
    await _by_principal(request, principal)


async def _by_channel(
    request: Request,
    session: channel_credentials.ChannelSession,
    principal: channel_credentials.ChannelPrincipal,
) -> None:
    await _by_face_session(request, session, principal)


async def _by_address(request: Request) -> None:
    await _enforce(request, user_id=None, session_id=None, by_key=False)


_BY_AUTH: dict[Callable[..., Any], Callable[..., Awaitable[None]]] = {
    # The faces' session (from the path) before the principal it depends on.
    deps.get_face_session: _by_face_session,
    deps.get_principal: _by_principal,
    # The channel face's (its principal may come from the dashboard's cookie).
    channel_credentials.get_channel: _by_channel,
    channel_credentials.get_channel_principal: _by_channel_principal,
    deps.get_api_session: _by_api_session,
    deps.get_session_by_key_or_token: _by_session_or_user,
    deps.get_user_by_token_or_key: _by_user_or_key,
    deps.get_current_user: _by_user,
}


def _auth_dependency(dependant: Dependant) -> Callable[..., Any] | None:
    """The first of our auth dependencies the endpoint uses, breadth first (so
    ``AdminUser`` finds ``get_current_user`` beneath it); a face's session
    dependency wins over the principal it is built on."""
    found: list[Callable[..., Any]] = []
    queue = list(dependant.dependencies)
    while queue:
        current = queue.pop(0)
        if current.call in _BY_AUTH:
            found.append(current.call)
        queue.extend(current.dependencies)
    for by_session in (deps.get_face_session, channel_credentials.get_channel):
        if by_session in found:
            return by_session
    return found[0] if found else None


def limit_for(route: APIRoute, face: Face | None) -> Callable[..., Awaitable[None]] | None:
    if face is None:
        return None  # the sandbox, health, metrics and the dashboard are not the API
    auth = _auth_dependency(route.dependant)
    if auth is not None:
        return _BY_AUTH[auth]
    return _by_address if route.path in face.limits.auth else None


def include_router(app: FastAPI, router: APIRouter, *, enabled: bool) -> None:
    """``app.include_router(router)``, each API route with its rate-limit dependency.

    A router with API routes is included one route at a time, in order, so
    FastAPI's own copying adds the dependency and route matching keeps the
    router's order; a router without any (the dashboard) is included as it is."""
    faces: Faces = app.state.faces
    limits = [
        limit_for(r, faces.for_path(r.path)) if isinstance(r, APIRoute) else None
        for r in router.routes
    ]
    if not enabled or not any(limits):
        app.include_router(router)
        return
    for route, limit in zip(router.routes, limits, strict=True):
        single = APIRouter()
        single.routes.append(route)
        app.include_router(single, dependencies=[Depends(limit)] if limit else None)
