"""``/socket.io/socket.io.js``: the Socket.IO client the seed's example page
loads, served from the ``socket.io-client`` package ``make install`` installs
with npm (never a copy kept in this repository). Without it the route answers a
404 that says how to get it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from wagate.errors import AppError, ErrorCode

router = APIRouter(tags=["notification channels"])

_DIST = Path("node_modules") / "socket.io-client" / "dist"
# The working directory (a deployment's), then this checkout (make install).
_ROOTS = (Path.cwd(), Path(__file__).resolve().parents[4])


def client_script(roots: tuple[Path, ...] = _ROOTS) -> Path | None:
    """The installed client, minified when it can be."""
    for root in roots:
        for name in ("socket.io.min.js", "socket.io.js"):
            candidate = root / _DIST / name
            if candidate.is_file():
                return candidate
    return None


@router.get("/socket.io/socket.io.js", include_in_schema=False)
async def socket_io_js() -> Response:
    script = client_script()
    if script is None:
        raise AppError(
            ErrorCode.NOT_FOUND,
            "socket.io.js is not installed: run `make install` with npm present "
            "(or `npm install socket.io-client@4`), or load the client from your "
            "application's own bundle (docs/compat.md)",
        )
    return FileResponse(script, media_type="text/javascript")
