"""Who calls the channel face: the core's credentials, or the dashboard's login
cookie for a page served from this origin.

The seed's example page calls the REST routes with ``fetch`` and no
credentials of its own. Served from the gateway's origin, a logged-in person's
browser sends the dashboard's cookie with those calls; it counts only when the
request provably comes from this origin (its ``Origin``, which browsers send on
every cross-origin request and on same-origin POSTs, names this host; a
``Sec-Fetch-Site`` says ``same-origin``), and a body, when there is one, is
JSON. So no page of another site can act with it.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from wagate.auth import credentials
from wagate.dashboard.web import AUTH_COOKIE
from wagate.deps import DbSession, bearer_token, face_session, resolve_principal
from wagate.sessions.models import WhatsAppSession

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _same_origin(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        # Browsers omit Origin only on same-origin GETs; a body-carrying request
        # without it is not a browser's fetch from our page.
        return request.method in _SAFE_METHODS
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def _json_or_no_body(request: Request) -> bool:
    if request.method in _SAFE_METHODS:
        return True
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type in ("", "application/json")


def cookie_token(request: Request) -> str | None:
    """The login cookie's token, when this request may use it."""
    token = request.cookies.get(AUTH_COOKIE)
    if not token or not _same_origin(request) or not _json_or_no_body(request):
        return None
    return token


async def get_channel_principal(request: Request, db: DbSession) -> credentials.Principal:
    """Bearer JWT, else a key in ``x-api-key``, else the same-origin login cookie:
    each through the one resolver."""
    token = bearer_token(request)
    api_key = request.headers.get("x-api-key")
    if token is None and not api_key:
        token = cookie_token(request)
    return await resolve_principal(request, db, token=token, api_key=api_key)


ChannelPrincipal = Annotated[credentials.Principal, Depends(get_channel_principal)]


async def get_channel(
    request: Request, db: DbSession, principal: ChannelPrincipal, channel_id: str
) -> WhatsAppSession:
    """``{channel_id}``: one of the caller's sessions (another's is not found)."""
    return await face_session(request, db, principal, channel_id)


ChannelSession = Annotated[WhatsAppSession, Depends(get_channel)]
