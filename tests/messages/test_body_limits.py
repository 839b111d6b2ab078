"""Body limits answer 413 in the envelope however the body arrives: a chunked
JSON body past the limit, and base64 media past its (lower) cap for JSON."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"max_document_bytes": 1024 * 1024, "max_base64_bytes": 64 * 1024}


async def test_an_oversized_chunked_json_body_is_413(
    client: httpx.AsyncClient, linked: Any
) -> None:
    async def chunked() -> AsyncIterator[bytes]:
        yield b'{"to": "15550001234", "text": "'
        for _ in range(40):  # 2.5 MB, past the 1 MB limit of JSON bodies
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "/api/v1/messages/send",
        content=chunked(),
        headers={"x-api-key": linked.api_key, "content-type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_base64_media_past_its_cap_is_413_and_says_how_to_send_it(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any
) -> None:
    customer = await session_tools.phone(user.headers)
    document = b"%PDF-1.4\n" + b"x" * (100 * 1024)
    response = await client.post(
        "/api/v1/messages/send-document",
        json={
            "to": customer,
            "media": base64.b64encode(document).decode(),
            "mimetype": "application/pdf",
            "filename": "big.pdf",
        },
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert "multipart" in error["message"]
    # The same file as a multipart upload is within the document limit.
    uploaded = await client.post(
        "/api/v1/messages/send-document",
        data={"to": customer},
        files={"document": ("big.pdf", document, "application/pdf")},
        headers={"x-api-key": linked.api_key},
    )
    assert uploaded.status_code == 200, uploaded.text
