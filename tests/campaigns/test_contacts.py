"""Broadcast contacts: CRUD, tags, custom fields, opt-out, CSV import and export."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.conftest import TestUser, UserFactory

BASE = "/api/v1/broadcast/contacts"


async def _create(client: httpx.AsyncClient, user: TestUser, **body: Any) -> dict[str, Any]:
    response = await client.post(BASE, json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.mark.both_databases
async def test_contact_crud_with_tags_fields_and_opt_out(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    created = await _create(
        client,
        user,
        phone="(555) 000-0001",
        name="Asha",
        tags=["VIP", " vip", "Leads"],
        fields={"city": "Pune"},
    )
    # Read in the default region (US) into the JID the send path uses.
    assert created["phone"] == "+15550000001"
    assert created["jid"] == "15550000001@s.whatsapp.net"
    assert created["tags"] == ["vip", "leads"]
    assert created["fields"] == {"city": "Pune"}
    assert created["optedOut"] is False

    same = await client.post(BASE, json={"phone": "+1 555 000 0001"}, headers=user.headers)
    assert same.status_code == 409, same.text

    patched = await client.patch(
        f"{BASE}/{created['id']}", json={"optedOut": True, "tags": ["vip"]}, headers=user.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["optedOut"] is True
    assert patched.json()["data"]["optedOutAt"] is not None
    assert patched.json()["data"]["name"] == "Asha"  # untouched fields stay

    await _create(client, user, phone="+442071838750", name="Ben", tags=["leads"])
    by_tag = await client.get(BASE, params={"tag": "leads"}, headers=user.headers)
    assert [c["name"] for c in by_tag.json()["data"]["contacts"]] == ["Ben"]
    searched = await client.get(BASE, params={"search": "ash"}, headers=user.headers)
    assert searched.json()["data"]["total"] == 1

    deleted = await client.delete(f"{BASE}/{created['id']}", headers=user.headers)
    assert deleted.status_code == 200
    gone = await client.get(f"{BASE}/{created['id']}", headers=user.headers)
    assert gone.status_code == 404


async def test_bad_phone_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    response = await client.post(BASE, json={"phone": "hello"}, headers=user.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "phone" in response.json()["error"]["message"]
    listed = await client.get(BASE, headers=user.headers)
    assert listed.json()["data"]["total"] == 0


async def test_another_users_contacts_are_not_found(
    client: httpx.AsyncClient, user: TestUser, make_user: UserFactory
) -> None:
    created = await _create(client, user, phone="+15550000002")
    other = await make_user()
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, f"{BASE}/{created['id']}", headers=other.headers, json={"name": "x"}
        )
        assert response.status_code == 404, (method, response.text)
    listed = await client.get(BASE, headers=other.headers)
    assert listed.json()["data"]["total"] == 0


@pytest.mark.both_databases
async def test_csv_import_reports_imported_updated_and_rejected_rows(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await _create(client, user, phone="+15550000010", name="Old name", tags=["old"])
    body = (
        "\ufeffPhone,Name,Tags,City,Plan\n"
        "+15550000010,New name,vip,Pune,gold\n"  # known: updated, tags added
        '(555) 000-0011,Carla,"vip, leads",Delhi,\n'
        "not a number,Nobody,,,\n"
        '5550000012,"Dan\nSmith",leads,Goa,silver\n'  # a quoted name over two lines
        ",Empty phone,,,\n"
        "+1 555 000 0011,Carla again,late,,\n"  # the same number again: an update
    )
    response = await client.post(
        f"{BASE}/import",
        content=body.encode(),
        headers={**user.headers, "content-type": "text/csv"},
        params={"tag": "imported"},
    )
    assert response.status_code == 200, response.text
    report = response.json()["data"]
    assert report["imported"] == 2
    assert report["updated"] == 2
    assert report["rejectedCount"] == 2
    assert [r["line"] for r in report["rejected"]] == [4, 7]
    assert "not a phone number" in report["rejected"][0]["reason"]

    listed = await client.get(BASE, params={"limit": 10}, headers=user.headers)
    by_phone = {c["phone"]: c for c in listed.json()["data"]["contacts"]}
    assert set(by_phone) == {"+15550000010", "+15550000011", "+15550000012"}
    assert by_phone["+15550000010"]["name"] == "New name"
    assert by_phone["+15550000010"]["tags"] == ["old", "vip", "imported"]
    assert by_phone["+15550000010"]["fields"] == {"City": "Pune", "Plan": "gold"}
    assert by_phone["+15550000011"]["name"] == "Carla again"
    assert by_phone["+15550000011"]["tags"] == ["vip", "leads", "imported", "late"]
    assert by_phone["+15550000012"]["name"] == "Dan\nSmith"

    exported = await client.get(f"{BASE}/export", headers=user.headers)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["phone"] for r in rows] == ["+15550000010", "+15550000011", "+15550000012"]
    assert rows[0]["City"] == "Pune" and rows[0]["tags"] == "old,vip,imported"


async def test_csv_without_a_phone_column_is_refused(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    response = await client.post(
        f"{BASE}/import",
        content=b"name,city\nA,B\n",
        headers={**user.headers, "content-type": "text/csv"},
    )
    assert response.status_code == 400, response.text
    assert "phone column" in response.json()["error"]["message"]


async def test_csv_import_by_multipart_upload(client: httpx.AsyncClient, user: TestUser) -> None:
    response = await client.post(
        f"{BASE}/import",
        files={"file": ("c.csv", b"number,name\n+15550000020,Eve\n", "text/csv")},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["imported"] == 1


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"broadcast_import_max_bytes": 4 * 1024 * 1024}


async def test_a_large_csv_streams_in_seconds(client: httpx.AsyncClient, user: TestUser) -> None:
    """50,000 rows sent as a chunked stream (no Content-Length), read as it arrives."""
    rows = 50_000

    async def stream() -> AsyncIterator[bytes]:
        yield b"phone,name,segment\n"
        for start in range(0, rows, 5000):
            yield "".join(
                f"+1555{1000000 + i:07d},Name {i},s{i % 7}\n" for i in range(start, start + 5000)
            ).encode()

    began = time.monotonic()
    response = await client.post(
        f"{BASE}/import",
        content=stream(),
        headers={**user.headers, "content-type": "text/csv"},
        timeout=120,
    )
    elapsed = time.monotonic() - began
    assert response.status_code == 200, response.text
    assert response.json()["data"]["imported"] == rows
    assert elapsed < 30, f"50,000 rows took {elapsed:.1f}s"
    listed = await client.get(BASE, params={"limit": 1}, headers=user.headers)
    assert listed.json()["data"]["total"] == rows


async def test_csv_over_its_limit_is_refused(client: httpx.AsyncClient, user: TestUser) -> None:
    big = b"phone\n" + b"+15550000030\n" * (4 * 1024 * 1024 // 13 + 10)
    response = await client.post(
        f"{BASE}/import", content=big, headers={**user.headers, "content-type": "text/csv"}
    )
    assert response.status_code == 413, response.text
    listed = await client.get(BASE, headers=user.headers)
    assert listed.json()["data"]["total"] == 0
