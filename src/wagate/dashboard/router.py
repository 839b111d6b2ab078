"""Every dashboard page in one router, and what ``app.py`` wires for it: the
static files, the error pages, and the composer's upload limit."""

from __future__ import annotations

from fastapi import APIRouter

from wagate.config import Settings
from wagate.dashboard import (
    accounts_pages,
    analytics_pages,
    auth_pages,
    broadcasts_pages,
    keys_pages,
    messages_pages,
    sandbox_pages,
    sessions_pages,
    webhooks_pages,
)
from wagate.dashboard.web import (
    STATIC_DIR,
    STATIC_PREFIX,
    PageError,
    PageRoute,
    not_found_page,
    page_error_handler,
)

__all__ = [
    "STATIC_DIR",
    "STATIC_PREFIX",
    "PageError",
    "page_error_handler",
    "router",
    "upload_limits",
]

# Room for the form's other fields and the multipart boundaries around the file.
_FORM_OVERHEAD = 256 * 1024
_MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")

router = APIRouter(include_in_schema=False)
for _pages in (
    auth_pages,
    sessions_pages,
    messages_pages,
    webhooks_pages,
    broadcasts_pages,
    accounts_pages,
    keys_pages,
    analytics_pages,
    sandbox_pages,
):
    router.include_router(_pages.router)

_fallback = APIRouter(route_class=PageRoute, include_in_schema=False)


@_fallback.get("/dashboard/{rest:path}")
async def unknown_page(rest: str) -> None:
    """A mistyped dashboard address is a page too, not the API's JSON 404."""
    raise not_found_page()


router.include_router(_fallback)


def upload_limits(settings: Settings) -> dict[str, int]:
    """The composer's body limit: the largest file any kind of message may carry."""
    largest = max(settings.max_media_bytes(kind) for kind in _MEDIA_KINDS)
    return {
        messages_pages.SEND_PATH: largest + _FORM_OVERHEAD,
        broadcasts_pages.IMPORT_PATH: settings.broadcast_import_max_bytes + _FORM_OVERHEAD,
        # The wizard's form may carry a CSV audience.
        broadcasts_pages.CAMPAIGNS_PATH: settings.broadcast_import_max_bytes + _FORM_OVERHEAD,
    }
