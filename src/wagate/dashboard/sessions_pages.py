"""The sessions page: the grid of linked numbers, linking by QR or pairing code,
and what a person may do to a session (restart, log out, rename, new key, delete)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse

from wagate.dashboard.web import (
    PageRoute,
    PageUser,
    check_csrf,
    not_found_page,
    redirect,
    render,
    wants_json,
)
from wagate.deps import ClientAddress, DbSession, Manager, parse_id
from wagate.errors import AppError
from wagate.sessions import lifecycle, qr
from wagate.sessions import service as sessions_service
from wagate.sessions.models import WhatsAppSession

router = APIRouter(
    prefix="/dashboard/sessions",
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)

SessionName = Annotated[str, Form(min_length=1, max_length=100)]


async def owned(db: DbSession, user: PageUser, session_id: str) -> WhatsAppSession:
    """The caller's session named in the path; anyone else's is a 404 page."""
    try:
        return await sessions_service.get_owned(db, user, parse_id(session_id, "Session"))
    except AppError as exc:
        raise not_found_page() from exc


OwnedSession = Annotated[WhatsAppSession, Depends(owned)]


async def _grid(
    request: Request, db: DbSession, user: PageUser, extra: dict[str, Any] | None = None
) -> Response:
    sessions = await sessions_service.list_owned(db, user)
    context = {"title": "Sessions", "nav": "sessions", "sessions": sessions, **(extra or {})}
    return render(request, "sessions.html", context)


@router.get("")
async def sessions_page(request: Request, db: DbSession, user: PageUser) -> Response:
    return await _grid(request, db, user)


@router.post("")
async def create_session(
    request: Request,
    db: DbSession,
    user: PageUser,
    manager: Manager,
    ip: ClientAddress,
    name: SessionName = "WhatsApp",
) -> Response:
    created = await lifecycle.create(
        db, manager, user, name=name.strip() or "WhatsApp", ip_address=ip
    )
    session = created.session
    # The key is shown on this response only: it is stored as a hash.
    revealed = {"title": f"Session “{session.name}” created", "key": created.api_key}
    return await _grid(request, db, user, {"revealed": revealed, "open_qr": session})


@router.get("/{session_id}/card")
async def session_card(request: Request, session: OwnedSession) -> Response:
    """One card of the grid, re-fetched when the session's live events arrive."""
    return render(request, "_session_card.html", {"session": session})


@router.get("/{session_id}/link")
async def link_page(request: Request, session: OwnedSession) -> Response:
    """The QR code (and the pairing-code form) without JavaScript; the grid's
    modal shows the same, live."""
    code = lifecycle.current_qr(session)
    context = {
        "title": f"Link {session.name}",
        "nav": "sessions",
        "session": session,
        "qr_image": qr.qr_data_url(code) if code else None,
        "attempt_over": lifecycle.link_attempt_over(session),
    }
    return render(request, "session_link.html", context)


@router.post("/{session_id}/link")
async def start_link(
    request: Request, db: DbSession, user: PageUser, session_id: str, manager: Manager
) -> Response:
    """Begin a new link attempt when the last one ended; otherwise nothing to do."""
    view = await lifecycle.link(db, manager, user, session_id, begin=True)
    if wants_json(request):
        return JSONResponse({"started": view.started, "state": view.session.state})
    return redirect(request, f"/dashboard/sessions/{view.session.id}/link")


@router.post("/{session_id}/pairing-code")
async def pairing_code(
    request: Request,
    db: DbSession,
    user: PageUser,
    session_id: str,
    manager: Manager,
    phone_number: Annotated[str, Form(min_length=6, max_length=32)],
) -> Response:
    pairing = await lifecycle.request_pairing_code(db, manager, user, session_id, phone_number)
    if wants_json(request):
        return JSONResponse({"code": pairing.code, "phoneNumber": pairing.phone_number})
    context = {
        "title": f"Link {pairing.session.name}",
        "nav": "sessions",
        "session": pairing.session,
        "pairing": {"code": pairing.code, "phone": pairing.phone_number},
    }
    return render(request, "session_link.html", context)


def _action_page(action: str, call: lifecycle.SessionAction, done: str) -> None:
    """A session action from a card's menu: do it, then back to the grid saying so."""

    async def endpoint(
        request: Request, db: DbSession, user: PageUser, session_id: str, manager: Manager
    ) -> Response:
        session = await call(db, manager, user, session_id)
        return redirect(request, "/dashboard/sessions", done.format(name=session.name))

    endpoint.__name__ = action
    router.add_api_route(f"/{{session_id}}/{action}", endpoint, methods=["POST"])


_action_page("connect", lifecycle.connect, "“{name}” is connecting")
_action_page("disconnect", lifecycle.disconnect, "“{name}” is disconnected")
_action_page("restart", lifecycle.restart, "“{name}” is restarting")
_action_page("logout", lifecycle.logout, "“{name}” was logged out")


@router.post("/{session_id}/rename")
async def rename(
    request: Request, db: DbSession, user: PageUser, session_id: str, name: SessionName
) -> Response:
    session = await sessions_service.update(
        db,
        user,
        parse_id(session_id, "Session"),
        name=name,
        send_rate_per_minute=None,
        typing_delay_ms=None,
        fields_set={"name"},
    )
    return redirect(request, "/dashboard/sessions", f"Renamed to “{session.name}”")


@router.post("/{session_id}/api-key")
async def rotate_key(request: Request, db: DbSession, user: PageUser, session_id: str) -> Response:
    rotated = await sessions_service.rotate_api_key(db, user, parse_id(session_id, "Session"))
    revealed = {
        "title": f"New API key for “{rotated.session.name}”",
        "key": rotated.api_key,
        "note": "The previous key no longer works.",
    }
    return await _grid(request, db, user, {"revealed": revealed})


@router.post("/{session_id}/delete")
async def delete(
    request: Request,
    db: DbSession,
    user: PageUser,
    session_id: str,
    manager: Manager,
    ip: ClientAddress,
) -> Response:
    session = await lifecycle.delete(db, manager, user, session_id, ip_address=ip)
    return redirect(request, "/dashboard/sessions", f"“{session.name}” was deleted")
