"""QR images rendered with segno (imported with the first QR code, not at start)."""

from __future__ import annotations

import base64
import io


def qr_png(code: str, scale: int = 6) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(code, error="l").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def qr_svg(code: str, scale: int = 6) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(code, error="l").save(buffer, kind="svg", scale=scale, border=2, xmldecl=False)
    return buffer.getvalue()


def qr_data_url(code: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(code)).decode()
