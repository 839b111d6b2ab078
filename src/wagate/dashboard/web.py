"""What every dashboard page shares: templates, the login cookie, CSRF, flash
messages, and turning errors into pages.

The dashboard is a face like the API: a handler validates, calls one service
function with the request's ``DbSession``, and renders. Errors are raised, not
caught in handlers, so the request's unit of work rolls back exactly as it does
for the API; :class:`PageRoute` only changes how they are shown (a page, a
flash message, or JSON for the few ``fetch`` calls the pages make).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from wagate.auth import service as auth_service
from wagate.auth.models import User
from wagate.config import Settings
from wagate.deps import DbSession, SettingsDep
from wagate.errors import AppError, ErrorCode, error_body

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/dashboard/static"

AUTH_COOKIE = "wagate_session"
CSRF_COOKIE = "wagate_csrf"
FLASH_COOKIE = "wagate_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# Pages load only our own files; inline script is refused, so an injected
# <script> could not run even if escaping ever failed. QR codes and chart
# thumbnails are data: URLs; the live stream is a same-origin WebSocket.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

STATE_LABELS = {
    "pending": "Starting",
    "qr": "Waiting for scan",
    "pairing_code": "Waiting for code",
    "connected": "Connected",
    "disconnected": "Disconnected",
    "logged_out": "Logged out",
    "failed": "Failed",
    "stopped": "Stopped",
}


def _static_versions() -> dict[str, str]:
    # A content hash in each asset URL: browsers may cache them forever, and a
    # new release still loads its own files.
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in STATIC_DIR.iterdir()
        if path.is_file()
    }


_VERSIONS = _static_versions()


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={_VERSIONS.get(name, '0')}"


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def format_number(value: str | None) -> str:
    return f"+{value}" if value and value.isdigit() else (value or "")


@cache
def _templates() -> Jinja2Templates:
    """The pages' templates, made at the first page: jinja2 is 2 MB that an
    API-only gateway does not need at start."""
    from fastapi.templating import Jinja2Templates
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static_url=static_url, state_labels=STATE_LABELS)
    env.filters.update(datetime=format_datetime, iso=iso, number=format_number)
    return Jinja2Templates(env=env)


# -- errors shown as pages ---------------------------------------------------


class PageError(Exception):
    """An error of a dashboard request, shown by :func:`page_error_handler`.

    It is not an ``AppError``, so the API's JSON handler never sees it; it is
    raised inside the request's unit of work, so the transaction rolls back.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class LoginRequired(PageError):
    def __init__(self) -> None:
        super().__init__(401, ErrorCode.NO_TOKEN, "Please log in")


class CsrfRefused(PageError):
    def __init__(self) -> None:
        super().__init__(
            403, "CSRF_FAILED", "This form has expired or did not come from this site; try again"
        )


def not_found_page() -> PageError:
    return PageError(404, ErrorCode.NOT_FOUND, "This page does not exist, or it is not yours")


class PageRoute(APIRoute):
    """Dashboard routes raise page errors instead of the API's JSON errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except AppError as exc:
                raise PageError(exc.status, exc.code, exc.message) from exc
            except RequestValidationError as exc:
                raise PageError(400, ErrorCode.VALIDATION_ERROR, _describe(exc)) from exc

        return page_handler


def _describe(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where or 'form'}: {first.get('msg', 'is invalid')}"


def wants_json(request: Request) -> bool:
    """The pages' own ``fetch`` calls ask for JSON; forms and links get pages."""
    return "application/json" in request.headers.get("accept", "")


async def page_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if wants_json(request):
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)
    if isinstance(exc, LoginRequired):
        target = request.url.path if request.method == "GET" else "/dashboard"
        response: Response = RedirectResponse(f"/?next={quote(target)}", status_code=303)
        response.delete_cookie(AUTH_COOKIE, path="/")
        return response
    if request.method == "POST" and exc.status != 404 and not isinstance(exc, CsrfRefused):
        # A refused form goes back where it came from, with the reason on top.
        redirect = RedirectResponse(back_url(request), status_code=303)
        set_flash(request, redirect, exc.message, kind="error")
        return redirect
    title = "Not found" if exc.status == 404 else "Something went wrong"
    return render(request, "error.html", {"title": title, "error": exc}, status=exc.status)


def back_url(request: Request, default: str = "/dashboard/sessions") -> str:
    """The same-site page a form was posted from (its Referer), else ``default``."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return default
    if not referer.path.startswith("/"):
        return default
    return referer.path + (f"?{referer.query}" if referer.query else "")


def safe_next(value: str | None) -> str:
    """Where to go after logging in: only a dashboard path of this site (the
    accounts page keeps the broadcaster seed's ``/whatsapp``)."""
    if (
        value
        and value.startswith(("/dashboard", "/whatsapp"))
        and "//" not in value
        and "\\" not in value
    ):
        return value
    return "/dashboard/sessions"


# -- settings, login and CSRF ------------------------------------------------


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sign(request: Request, purpose: str, value: str) -> str:
    key = settings_of(request).resolved_secret_key.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def set_login(request: Request, response: Response, token: str) -> None:
    settings = settings_of(request)
    response.set_cookie(
        AUTH_COOKIE,
        token,
        max_age=settings.jwt_expires_minutes * 60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    # A new CSRF cookie with every login, so one planted before it is useless.
    _delete_csrf_cookie(request, response)


def clear_login(request: Request, response: Response) -> None:
    response.delete_cookie(AUTH_COOKIE, path="/")
    _delete_csrf_cookie(request, response)


def _secure(request: Request) -> bool:
    public_url = settings_of(request).public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def csrf_cookie_name(request: Request) -> str:
    """Over HTTPS the ``__Host-`` prefix: a browser then takes the cookie only if
    it is Secure, for ``/`` and this host alone, so a sibling subdomain or a
    plain-HTTP answer cannot plant one."""
    return f"__Host-{CSRF_COOKIE}" if _secure(request) else CSRF_COOKIE


def _delete_csrf_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(csrf_cookie_name(request), path="/", secure=_secure(request))


def _csrf_for_login(request: Request, cookie: str) -> str:
    """The token of a CSRF cookie for the login this request carries: a cookie and
    token pair obtained anonymously or under another login does not match."""
    login = request.cookies.get(AUTH_COOKIE, "")
    login_digest = hashlib.sha256(login.encode()).hexdigest()
    return _sign(request, "csrf", f"{cookie}:{login_digest}")


def csrf_token(request: Request) -> str:
    """The token forms carry: the CSRF cookie and the login, signed with the
    instance secret (signed double submit: a cookie planted by another site
    cannot be matched, nor a pair issued for another login)."""
    cookie = getattr(request.state, "new_csrf_cookie", None) or request.cookies.get(
        csrf_cookie_name(request)
    )
    if not cookie:
        cookie = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = cookie
    return _csrf_for_login(request, cookie)


async def check_csrf(request: Request) -> None:
    """Every unsafe request must carry the token of its CSRF cookie and login."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    cookie = request.cookies.get(csrf_cookie_name(request))
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not cookie or not sent or not hmac.compare_digest(sent, _csrf_for_login(request, cookie)):
        raise CsrfRefused()


@dataclass(frozen=True, slots=True)
class Viewer:
    email: str
    name: str | None


async def optional_user(request: Request, db: DbSession, settings: SettingsDep) -> User | None:
    token = request.cookies.get(AUTH_COOKIE)
    if not token:
        return None
    try:
        user = await auth_service.user_from_token(db, token, secret=settings.resolved_secret_key)
    except AppError:
        return None
    request.state.user_id = str(user.id)
    # What the frame shows, copied now: an error page renders after the
    # request's transaction rolled back, when the row can no longer be read.
    request.state.viewer = Viewer(email=user.email, name=user.name)
    return user


async def page_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise LoginRequired()
    return user


MaybeUser = Annotated[User | None, Depends(optional_user)]
PageUser = Annotated[User, Depends(page_user)]


# -- flash messages ----------------------------------------------------------


def set_flash(request: Request, response: Response, text: str, *, kind: str = "ok") -> None:
    """A one-line notice for the next page, after a redirect."""
    raw = base64.urlsafe_b64encode(json.dumps({"kind": kind, "text": text}).encode()).decode()
    value = f"{raw}.{_sign(request, 'flash', raw)[:32]}"
    response.set_cookie(
        FLASH_COOKIE,
        value,
        max_age=60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def _read_flash(request: Request) -> dict[str, str] | None:
    value = request.cookies.get(FLASH_COOKIE)
    if not value or "." not in value:
        return None
    raw, signature = value.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(request, "flash", raw)[:32]):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {"kind": str(data.get("kind", "ok")), "text": str(data.get("text", ""))}


def redirect(request: Request, url: str, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash:
        set_flash(request, response, flash)
    return response


# -- rendering ---------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    settings = settings_of(request)
    flash = _read_flash(request)
    values: dict[str, Any] = {
        "user": getattr(request.state, "viewer", None),
        "csrf_token": csrf_token(request),
        "flash": flash,
        "sandbox_enabled": "sandbox" in settings.engines,
        "allow_registration": settings.allow_registration,
        "nav": "",
        **(context or {}),
    }
    response = _templates().TemplateResponse(request, template, values, status_code=status)
    new_cookie = getattr(request.state, "new_csrf_cookie", None)
    if new_cookie:
        response.set_cookie(
            csrf_cookie_name(request),
            new_cookie,
            path="/",
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    secure_headers(response)
    return response


def secure_headers(response: Response) -> None:
    response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
    response.headers["x-frame-options"] = "DENY"
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["cache-control"] = "no-store"
