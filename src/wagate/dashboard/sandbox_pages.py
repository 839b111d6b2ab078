"""The sandbox phone simulator: virtual phones that scan a session's QR with one
click and chat from the phone's side.

The page is a face on the ``/sandbox/v1`` API, which holds the sandbox's rules
(whose phones are whose): its script calls that API with the short-lived token
of ``/dashboard/live-token``. The server only renders the frame and the names
of the user's sessions.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request, Response

from wagate.dashboard.web import PageRoute, PageUser, check_csrf, not_found_page, render
from wagate.deps import DbSession, SettingsDep
from wagate.sessions import service as sessions_service

router = APIRouter(
    prefix="/dashboard/sandbox",
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)


@router.get("")
async def sandbox_page(
    request: Request, db: DbSession, user: PageUser, settings: SettingsDep
) -> Response:
    if "sandbox" not in settings.engines:
        raise not_found_page()
    sessions = await sessions_service.list_owned(db, user)
    names = {str(s.id): s.name for s in sessions}
    context = {
        "title": "Sandbox phones",
        "nav": "sandbox",
        "session_names": json.dumps(names),
        "has_sessions": bool(sessions),
    }
    return render(request, "sandbox.html", context)
