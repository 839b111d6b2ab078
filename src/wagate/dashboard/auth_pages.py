"""Logging in and out, registering, and the short-lived token the pages' live
stream authenticates with. The same users and JWT as the API, kept in an
HttpOnly cookie."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse

from wagate.analytics.ratelimit import Limit, RateLimiter
from wagate.auth import passwords
from wagate.auth import service as auth_service
from wagate.dashboard.web import (
    MaybeUser,
    PageRoute,
    PageUser,
    check_csrf,
    clear_login,
    not_found_page,
    redirect,
    render,
    safe_next,
    set_login,
)
from wagate.deps import ClientAddress, DbSession, SettingsDep
from wagate.errors import AppError, ErrorCode

router = APIRouter(route_class=PageRoute, dependencies=[Depends(check_csrf)], tags=["dashboard"])

# Long enough to open a stream, short enough that a token lifted from a page
# is soon worthless; the pages ask for a new one whenever they (re)connect.
LIVE_TOKEN_MINUTES = 10


async def throttle(request: Request, settings: SettingsDep, ip: ClientAddress) -> None:
    """Logging in and signing up here count against the API's per-address limit,
    so the form is no way around it for someone guessing passwords."""
    if not settings.rate_limit_enabled:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    outcome = await limiter.hit([(Limit.AUTH, ip or "unknown")])
    if outcome is not None and not outcome.allowed:
        retry = max(1, math.ceil(outcome.reset - time.time()))
        raise AppError(ErrorCode.RATE_LIMIT_EXCEEDED, f"Too many attempts; try again in {retry} s")


Throttled = Depends(throttle)

Email = Annotated[str, Form(min_length=1, max_length=320)]
Password = Annotated[str, Form(min_length=1, max_length=1024)]


@router.get("/", include_in_schema=False)
async def login_page(request: Request, user: MaybeUser, next: str | None = None) -> Response:
    if user is not None:
        return redirect(request, safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "title": "Log in"})


@router.post("/login", include_in_schema=False, dependencies=[Throttled])
async def login(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    ip: ClientAddress,
    email: Email,
    password: Password,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        user = await auth_service.authenticate(db, login=email, password=password, ip_address=ip)
    except AppError as exc:
        context = {"error": exc.message, "email": email, "next": safe_next(next), "title": "Log in"}
        return render(request, "login.html", context, status=exc.status)
    token = auth_service.issue_token(
        user, secret=settings.resolved_secret_key, expires_minutes=settings.jwt_expires_minutes
    )
    response = redirect(request, safe_next(next))
    set_login(request, response, token)
    return response


@router.get("/register", include_in_schema=False)
async def register_page(request: Request, settings: SettingsDep, user: MaybeUser) -> Response:
    if not settings.allow_registration:
        raise not_found_page()
    if user is not None:
        return redirect(request, "/dashboard/sessions")
    return render(request, "register.html", _register_context())


def _register_context(**values: str) -> dict[str, object]:
    return {"title": "Create an account", "min_password": passwords.MIN_LENGTH, **values}


@router.post("/register", include_in_schema=False, dependencies=[Throttled])
async def register(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    ip: ClientAddress,
    email: Email,
    password: Password,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        user = await auth_service.register(
            db,
            email=email,
            password=password,
            name=name.strip() or None,
            allow_registration=settings.allow_registration,
            ip_address=ip,
        )
    except AppError as exc:
        context = _register_context(error=exc.message, email=email, name=name)
        return render(request, "register.html", context, status=exc.status)
    token = auth_service.issue_token(
        user, secret=settings.resolved_secret_key, expires_minutes=settings.jwt_expires_minutes
    )
    response = redirect(request, "/dashboard/sessions", flash="Welcome to wagate!")
    set_login(request, response, token)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    # A JWT cannot be recalled; dropping the cookie ends this browser's login.
    response = redirect(request, "/", flash="You are logged out")
    clear_login(request, response)
    return response


@router.get("/dashboard", include_in_schema=False)
async def dashboard_home(request: Request, user: PageUser) -> Response:
    return redirect(request, "/dashboard/sessions")


@router.get("/dashboard/live-token", include_in_schema=False)
async def live_token(user: PageUser, settings: SettingsDep) -> JSONResponse:
    """A JWT for the WebSocket's ``?token=`` and the sandbox API: the login
    cookie is HttpOnly, so page scripts never see it."""
    token = auth_service.issue_token(
        user, secret=settings.resolved_secret_key, expires_minutes=LIVE_TOKEN_MINUTES
    )
    return JSONResponse(
        {"token": token, "expiresIn": LIVE_TOKEN_MINUTES * 60},
        headers={"cache-control": "no-store"},
    )
