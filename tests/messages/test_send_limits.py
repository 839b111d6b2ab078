"""Limits and other ways in: size limits per kind, media by URL (with the SSRF
guard), and history filters."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    overrides: dict[str, object] = {"max_image_bytes": 4096, "max_document_bytes": 8192}
    if request.node.get_closest_marker("private_urls"):
        overrides["allow_private_urls"] = True
    return overrides


@pytest.fixture
def media_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/logo.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)
            else:
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data")
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_an_oversized_upload_is_413_and_nothing_is_sent(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any
) -> None:
    customer = await session_tools.phone(user.headers)
    big = PNG + b"\x00" * 5000
    response = await client.post(
        "/api/v1/messages/send-image",
        data={"to": customer},
        files={"image": ("big.png", big, "image/png")},
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    history = await client.get("/api/v1/messages/history", headers={"x-api-key": linked.api_key})
    assert history.json()["data"]["messages"] == []


async def test_a_body_declared_too_large_is_refused_before_it_is_read(
    client: httpx.AsyncClient, linked: Any
) -> None:
    response = await client.post(
        "/api/v1/messages/send-document",
        content=b"x" * (2 * 1024 * 1024),
        headers={"x-api-key": linked.api_key, "content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_streamed_upload_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, linked: Any
) -> None:
    sent = 0

    async def endless_upload() -> Any:
        nonlocal sent
        yield (
            b'--b\r\nContent-Disposition: form-data; name="to"\r\n\r\n15550001234\r\n'
            b'--b\r\nContent-Disposition: form-data; name="document"; filename="a.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        for _ in range(2000):  # 128 MB if nothing stopped it
            sent += 65536
            yield b"x" * 65536
        yield b"\r\n--b--\r\n"

    response = await client.post(
        "/api/v1/messages/send-document",
        content=endless_upload(),
        headers={"x-api-key": linked.api_key, "content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert sent < 4 * 1024 * 1024


@pytest.mark.private_urls
async def test_media_by_url_is_fetched_and_sent(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any, media_server: str
) -> None:
    customer = await session_tools.phone(user.headers)
    response = await client.post(
        "/api/v1/messages/send-image",
        json={"to": customer, "mediaUrl": f"{media_server}/logo.png", "caption": "logo"},
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 200, response.text
    inbox = (
        await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
    ).json()["data"]["messages"]
    assert inbox[0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert inbox[0]["caption"] == "logo"


async def test_media_urls_to_private_addresses_are_refused(
    client: httpx.AsyncClient, linked: Any, media_server: str
) -> None:
    for url in (f"{media_server}/logo.png", "http://169.254.169.254/latest/meta-data"):
        response = await client.post(
            "/api/v1/messages/send-image",
            json={"to": "15550001234", "mediaUrl": url},
            headers={"x-api-key": linked.api_key},
        )
        assert response.status_code == 400, url
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert "mediaUrl" in response.json()["error"]["message"]


@pytest.mark.private_urls
async def test_a_redirect_to_a_metadata_address_is_not_followed_even_with_private_urls(
    client: httpx.AsyncClient, linked: Any, media_server: str
) -> None:
    response = await client.post(
        "/api/v1/messages/send-image",
        json={"to": "15550001234", "mediaUrl": f"{media_server}/redirect"},
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 400
    assert "mediaUrl" in response.json()["error"]["message"]


async def test_the_administrators_sessions_fetch_media_beside_the_gateway(
    client: httpx.AsyncClient, session_tools: Any, media_server: str
) -> None:
    """Without WAGATE_ALLOW_PRIVATE_URLS the administrator's own sessions still
    reach a loopback server; never a metadata address, even by a redirect."""
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    admin = {"Authorization": f"Bearer {login.json()['data']['token']}"}
    linked = await session_tools.link(admin)
    customer = await session_tools.phone(admin)
    fetched = await client.post(
        "/api/v1/messages/send-image",
        json={"to": customer, "mediaUrl": f"{media_server}/logo.png"},
        headers={"x-api-key": linked.api_key},
    )
    assert fetched.status_code == 200, fetched.text
    redirected = await client.post(
        "/api/v1/messages/send-image",
        json={"to": customer, "mediaUrl": f"{media_server}/redirect"},
        headers={"x-api-key": linked.api_key},
    )
    assert redirected.status_code == 400, redirected.text
    assert "WAGATE_ALLOW_LINK_LOCAL_URLS" in redirected.json()["error"]["message"]


async def test_history_filters_and_pagination(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any
) -> None:
    customer = await session_tools.phone(user.headers)
    key = {"x-api-key": linked.api_key}
    ids = []
    for index in range(5):
        response = await client.post(
            "/api/v1/messages/send", json={"to": customer, "text": f"m{index}"}, headers=key
        )
        ids.append(response.json()["data"]["messageId"])
    page = (await client.get("/api/v1/messages/history?limit=2&offset=1", headers=key)).json()
    assert [m["message_id"] for m in page["data"]["messages"]] == [ids[3], ids[2]]
    first = page["data"]["messages"][0]
    assert first["to_number"] == customer
    assert first["message_type"] == "text"
    assert first["direction"] == "out"
    assert set(first) >= {"message_id", "to_number", "message_type", "status", "created_at"}
    outgoing = (await client.get("/api/v1/messages/history?direction=in", headers=key)).json()
    assert outgoing["data"]["messages"] == []
    by_chat = await client.get(f"/api/v1/messages/history?chat={customer}", headers=key)
    assert len(by_chat.json()["data"]["messages"]) == 5
    bad = await client.get("/api/v1/messages/history?status=lost", headers=key)
    assert bad.status_code == 400
