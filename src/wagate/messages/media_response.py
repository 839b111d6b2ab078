"""Serving a stored message's media over HTTP, the same from every face: a file a
sender chose must never run as a page of this site."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

# Media a browser may show inline; anything else (HTML, SVG, PDF…) downloads.
INLINE_MEDIA = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/", "audio/")

# ``sandbox`` keeps even a file opened directly from running script or reaching
# this origin's cookies; ``nosniff`` keeps browsers from guessing it is HTML.
MEDIA_HEADERS = {"content-security-policy": "sandbox", "x-content-type-options": "nosniff"}


def media_response(path: Path, mimetype: str | None, filename: str | None) -> FileResponse:
    media_type = mimetype or "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        content_disposition_type="inline" if media_type.startswith(INLINE_MEDIA) else "attachment",
        headers=MEDIA_HEADERS,
    )
