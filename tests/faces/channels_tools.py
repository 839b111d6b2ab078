"""The notification-channel seed's REST calls, each asserting the answer's
shape field for field; shared by the REST and Socket.IO tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

PREFIX = "/api/whatsapp/channels"
CHANNEL_STATES = {
    "inactive",
    "connecting",
    "qr_ready",
    "pairing_code_ready",
    "active",
    "error",
    "logged_out",
}


def channel_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Every failure of this face: ``{ok: false, message, error}``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"ok", "message", "error"}, body
    assert body["ok"] is False
    assert isinstance(body["message"], str) and body["message"]
    return body


class Channels:
    def __init__(
        self, client: httpx.AsyncClient, wait_until: Callable[..., Awaitable[None]]
    ) -> None:
        self.client = client
        self.wait_until = wait_until

    async def create(
        self, headers: dict[str, str], name: str = "My WhatsApp Business", phone: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if phone is not None:
            body["phoneNumber"] = phone
        response = await self.client.post(PREFIX, json=body, headers=headers)
        assert response.status_code == 201, response.text
        answer = response.json()
        assert set(answer) == {"ok", "payload"} and answer["ok"] is True
        payload: dict[str, Any] = answer["payload"]
        assert set(payload) == {"channelId", "name", "type", "status", "phoneNumber"}
        assert payload["type"] == "whatsapp_automated"
        assert payload["status"] == "inactive"
        assert payload["name"] == name
        assert payload["phoneNumber"] == phone
        return payload

    async def connect(
        self, headers: dict[str, str], channel_id: str, phone: str | None = None
    ) -> dict[str, Any]:
        body = {"phoneNumber": phone} if phone else {}
        response = await self.client.post(
            f"{PREFIX}/{channel_id}/connect", json=body, headers=headers
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert answer == {
            "ok": True,
            "message": "Connection initiated",
            "channelId": channel_id,
            "status": "connecting",
        }
        return answer

    async def status(self, headers: dict[str, str], channel_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{PREFIX}/{channel_id}/status", headers=headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert set(answer) == {"ok", "payload"} and answer["ok"] is True
        payload: dict[str, Any] = answer["payload"]
        assert set(payload) == {"channelId", "name", "status", "lastStatusUpdate", "isActive"}
        assert payload["channelId"] == channel_id
        assert payload["status"] in CHANNEL_STATES
        assert payload["isActive"] is (payload["status"] == "active")
        assert payload["lastStatusUpdate"].endswith("Z")
        return payload

    async def wait_status(
        self, headers: dict[str, str], channel_id: str, status: str
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            seen.update(await self.status(headers, channel_id))
            return bool(seen["status"] == status)

        await self.wait_until(reached, 15.0, f"channel {channel_id} to be {status} ({seen})")
        return seen

    async def send(
        self, headers: dict[str, str], channel_id: str, to: str, message: str
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"{PREFIX}/{channel_id}/send",
            json={"to": to, "message": message, "type": "text"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert set(answer) == {"ok", "message", "payload"}
        assert answer["ok"] is True and answer["message"] == "Message sent"
        payload = answer["payload"]
        assert set(payload) == {"messageId", "to", "type", "status"}
        assert payload["to"] == to and payload["type"] == "text" and payload["status"] == "sent"
        return answer

    async def qr_from_core(self, headers: dict[str, str], channel_id: str) -> str:
        """The QR string the face showed as an image (the sandbox phone scans it)."""
        await self.wait_status(headers, channel_id, "qr_ready")
        response = await self.client.get(f"/api/v1/sessions/{channel_id}/qr", headers=headers)
        code: str = response.json()["data"]["qrCode"]
        return code
