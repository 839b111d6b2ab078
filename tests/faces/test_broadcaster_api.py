"""The broadcaster seed's WhatsApp API: start-session → scan → send-message,
the account list and status, disconnect keeping the account, its errors."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from tests.conftest import TestUser, UserFactory

API = "/api/v1/whatsapp"


async def _start(client: httpx.AsyncClient, user: TestUser, phone: str) -> dict[str, Any]:
    response = await client.post(
        f"{API}/start-session", json={"phoneNumber": f"+{phone}"}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def _account(client: httpx.AsyncClient, user: TestUser, account_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/sessions/{account_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_start_session_scan_and_send_message(
    client: httpx.AsyncClient, user: TestUser, session_tools: Any, wait_until: Any
) -> None:
    phone = await session_tools.phone(user.headers)
    [customer] = [await session_tools.phone(user.headers)]
    started = await _start(client, user, phone)
    assert started["qrCode"].startswith("data:image/png;base64,")
    png = base64.b64decode(started["qrCode"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG")
    account_id = started["accountId"]

    before = await _account(client, user, account_id)
    assert before["isActive"] is False and before["status"] == "qr"
    assert before["phoneNumber"] == f"+{phone}" and before["phoneMatches"] is None
    refused = await client.post(
        f"{API}/send-message",
        json={"accountId": account_id, "phoneNumber": f"+{customer}", "message": "early"},
        headers=user.headers,
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "Account not connected"

    code = (await client.get(f"/api/v1/sessions/{account_id}/qr", headers=user.headers)).json()
    scanned = await client.post(
        f"/sandbox/v1/phones/{phone}/link",
        json={"qr": code["data"]["qrCode"]},
        headers=user.headers,
    )
    assert scanned.status_code == 200, scanned.text

    async def online() -> bool:
        return bool((await _account(client, user, account_id))["isActive"])

    await wait_until(online, what="the account to be Online")
    after = await _account(client, user, account_id)
    assert after["linkedPhoneNumber"] == f"+{phone}" and after["phoneMatches"] is True
    assert after["lastLogin"] is not None

    sent = await client.post(
        f"{API}/send-message",
        json={"accountId": account_id, "phoneNumber": f"+{customer}", "message": "Hello there"},
        headers=user.headers,
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["success"] is True and sent.json()["status"] == "sent"
    inbox = await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
    assert [m["text"] for m in inbox.json()["data"]["messages"]] == ["Hello there"]

    listed = await client.get(f"{API}/sessions", headers=user.headers)
    assert [a["accountId"] for a in listed.json()["sessions"]] == [account_id]


async def test_a_different_number_scanning_is_reported(
    client: httpx.AsyncClient, user: TestUser, session_tools: Any, wait_until: Any
) -> None:
    declared, scanning = "15559990001", await session_tools.phone(user.headers)
    started = await _start(client, user, declared)
    code = (
        await client.get(f"/api/v1/sessions/{started['accountId']}/qr", headers=user.headers)
    ).json()["data"]["qrCode"]
    await client.post(
        f"/sandbox/v1/phones/{scanning}/link", json={"qr": code}, headers=user.headers
    )

    async def online() -> bool:
        return bool((await _account(client, user, started["accountId"]))["isActive"])

    await wait_until(online, what="the account to be Online")
    account = await _account(client, user, started["accountId"])
    assert account["declaredPhoneNumber"] == f"+{declared}"
    assert account["linkedPhoneNumber"] == f"+{scanning}"
    assert account["phoneMatches"] is False


async def test_delete_disconnects_and_keeps_the_account(
    client: httpx.AsyncClient, user: TestUser, session_tools: Any, wait_until: Any
) -> None:
    linked = await session_tools.link(user.headers)
    deleted = await client.delete(f"{API}/sessions/{linked.session_id}", headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["session"]["status"] == "stopped"
    kept = await _account(client, user, linked.session_id)
    assert kept["isActive"] is False
    refused = await client.post(
        f"{API}/send-message",
        json={"accountId": linked.session_id, "phoneNumber": "+15550009999", "message": "x"},
        headers=user.headers,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "Account not connected"

    # start-session with its number brings it back (the device is still linked).
    again = await _start(client, user, linked.phone)
    assert again["accountId"] == linked.session_id and again["qrCode"] is None

    async def online() -> bool:
        return bool((await _account(client, user, linked.session_id))["isActive"])

    await wait_until(online, what="the account to reconnect")


async def test_errors_in_the_seeds_shape(
    client: httpx.AsyncClient, user: TestUser, make_user: UserFactory, session_tools: Any
) -> None:
    no_token = await client.get(f"{API}/sessions")
    assert no_token.status_code == 401 and "error" in no_token.json()
    bad_phone = await client.post(
        f"{API}/start-session", json={"phoneNumber": "call me"}, headers=user.headers
    )
    assert bad_phone.status_code == 400
    assert bad_phone.json()["error"].startswith("phoneNumber:")
    linked = await session_tools.link(user.headers)
    other = await make_user()
    for method, path in (
        ("GET", f"/sessions/{linked.session_id}"),
        ("DELETE", f"/sessions/{linked.session_id}"),
    ):
        response = await client.request(method, f"{API}{path}", headers=other.headers)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "Account not found"
    foreign_send = await client.post(
        f"{API}/send-message",
        json={"accountId": linked.session_id, "phoneNumber": "+15550009999", "message": "x"},
        headers=other.headers,
    )
    assert foreign_send.status_code == 404
