"""``POST /sandbox/v1/phones`` under concurrency: one phone, one owner, no 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases


async def test_parallel_creates_of_one_number_make_one_phone_with_the_winners_name(
    client: httpx.AsyncClient, user: Any, new_phone_number: Any
) -> None:
    number = new_phone_number()
    responses = await asyncio.gather(
        *(
            client.post(
                "/sandbox/v1/phones",
                json={"phone": number, "name": f"Name {i}"},
                headers=user.headers,
            )
            for i in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()["data"]
    stored = await client.get(f"/sandbox/v1/phones/{number}", headers=user.headers)
    assert stored.json()["data"]["name"] == winner["name"]
    for response in responses:
        assert response.json()["data"]["name"] == winner["name"]


async def test_parallel_creates_by_two_users_give_the_number_to_one(
    client: httpx.AsyncClient, make_user: Any, new_phone_number: Any
) -> None:
    number = new_phone_number()
    users = [await make_user(), await make_user()]
    responses = await asyncio.gather(
        *(
            client.post("/sandbox/v1/phones", json={"phone": number}, headers=u.headers)
            for u in users * 4
        )
    )
    assert all(r.status_code in (200, 201, 409) for r in responses), [r.text for r in responses]
    owners = {u.email for u, r in zip(users * 4, responses, strict=True) if r.status_code < 300}
    assert len(owners) == 1


FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "15550001234")
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "15550001234")


@pytest.mark.parametrize("number", [FULLWIDTH, ARABIC_INDIC, "+1555" + FULLWIDTH[:3] + "1234"])
async def test_unicode_digits_are_not_a_phone_number(
    client: httpx.AsyncClient, user: Any, number: str
) -> None:
    response = await client.post("/sandbox/v1/phones", json={"phone": number}, headers=user.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
