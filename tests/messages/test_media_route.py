"""The API's media route never lets a sender's file run as a page of this site:
HTML and SVG download as attachments, and every file is sandboxed."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><script>fetch('/api/v1/auth/me')</script>"


async def media_of(
    client: httpx.AsyncClient, linked: Any, kind: str, name: str, data: bytes, mimetype: str
) -> httpx.Response:
    sent = await client.post(
        f"/api/v1/messages/send-{kind}",
        data={"to": linked.phone},
        files={kind: (name, data, mimetype)},
        headers={"x-api-key": linked.api_key},
    )
    assert sent.status_code == 200, sent.text
    message_id = sent.json()["data"]["messageId"]
    return await client.get(
        f"/api/v1/messages/{message_id}/media", headers={"x-api-key": linked.api_key}
    )


@pytest.mark.parametrize(
    ("name", "data", "mimetype"),
    [("page.html", HTML, "text/html"), ("logo.svg", SVG, "image/svg+xml")],
)
async def test_html_and_svg_download_sandboxed(
    client: httpx.AsyncClient, linked: Any, name: str, data: bytes, mimetype: str
) -> None:
    response = await media_of(client, linked, "document", name, data, mimetype)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_image_shows_inline_but_sandboxed(client: httpx.AsyncClient, linked: Any) -> None:
    response = await media_of(client, linked, "image", "dot.png", PNG, "image/png")
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["content-security-policy"] == "sandbox"
