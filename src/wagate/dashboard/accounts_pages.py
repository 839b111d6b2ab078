"""The broadcaster seed's accounts page at ``/whatsapp`` (its own path: nothing
else of the server answers there): a grid of the user's WhatsApp accounts
(sessions) showing "Online" when connected, and "Connect account", which asks
for the number and shows its QR code live in a modal until the phone scans it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse

from wagate.campaigns import accounts
from wagate.dashboard.web import PageRoute, PageUser, check_csrf, redirect, render, wants_json
from wagate.deps import ClientAddress, DbSession, Manager
from wagate.sessions import lifecycle
from wagate.sessions import service as sessions_service

PREFIX = "/whatsapp"

# What the seed's grid says of an account; "Online" only when connected.
ACCOUNT_LABELS = {
    "connected": "Online",
    "qr": "Waiting for scan",
    "pairing_code": "Waiting for code",
    "pending": "Connecting",
    "disconnected": "Offline, reconnecting",
    "stopped": "Offline",
    "logged_out": "Logged out",
    "failed": "Failed",
}

router = APIRouter(
    prefix=PREFIX,
    route_class=PageRoute,
    dependencies=[Depends(check_csrf)],
    include_in_schema=False,
)


@router.get("")
async def accounts_page(request: Request, db: DbSession, user: PageUser) -> Response:
    sessions = await sessions_service.list_owned(db, user)
    context = {
        "title": "WhatsApp accounts",
        "nav": "accounts",
        "accounts": sessions,
        "account_labels": ACCOUNT_LABELS,
    }
    return render(request, "accounts.html", context)


@router.post("/accounts")
async def connect_account(
    request: Request,
    db: DbSession,
    user: PageUser,
    manager: Manager,
    ip: ClientAddress,
    phone_number: Annotated[str, Form(min_length=4, max_length=32)],
) -> Response:
    """The account for this number (new, or an existing one reconnecting), as the
    seed's ``start-session`` does; the modal then follows its QR codes live."""
    session = await accounts.start_for_number(db, manager, user, phone_number, ip_address=ip)
    if wants_json(request):
        return JSONResponse(
            {"accountId": str(session.id), "name": session.name, "state": session.state}
        )
    # Without JavaScript: the page that shows the QR code (and refreshes itself).
    return redirect(request, f"/dashboard/sessions/{session.id}/link")


@router.post("/accounts/{account_id}/disconnect")
async def disconnect_account(
    request: Request, db: DbSession, user: PageUser, manager: Manager, account_id: str
) -> Response:
    """As the seed's ``DELETE sessions/{id}``: offline, still linked; connecting
    the same number again resumes it."""
    session = await lifecycle.disconnect(db, manager, user, account_id)
    return redirect(request, PREFIX, f"{session.name} is disconnected")
