"""Templates: CRUD, sandboxed rendering with contacts' fields and defaults, previews."""

from __future__ import annotations

from typing import Any

import httpx
from tests.conftest import TestUser, UserFactory

BASE = "/api/v1/broadcast/templates"


async def _template(client: httpx.AsyncClient, user: TestUser, **body: Any) -> dict[str, Any]:
    response = await client.post(BASE, json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _contact(client: httpx.AsyncClient, user: TestUser, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/broadcast/contacts", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_template_crud_and_preview_for_a_contact(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    template = await _template(
        client,
        user,
        name="Welcome",
        body="Hi {{name}}, your {{plan}} plan ships to {{city}}. Code: {{code}}",
        defaults={"code": "WELCOME10", "city": "your door"},
    )
    assert template["variables"] == ["city", "code", "name", "plan"]
    contact = await _contact(
        client, user, phone="+15550000101", name="Asha", fields={"plan": "gold", "city": "Pune"}
    )
    preview = await client.post(
        f"{BASE}/preview",
        json={"templateId": template["id"], "contactId": contact["id"]},
        headers=user.headers,
    )
    assert preview.status_code == 200, preview.text
    # The contact's field beats the default; a default fills what the contact lacks.
    assert (
        preview.json()["data"]["text"] == "Hi Asha, your gold plan ships to Pune. Code: WELCOME10"
    )

    patched = await client.patch(
        f"{BASE}/{template['id']}", json={"body": "Bye {{name}}"}, headers=user.headers
    )
    assert patched.status_code == 200 and patched.json()["data"]["variables"] == ["name"]
    listed = await client.get(BASE, headers=user.headers)
    assert [t["name"] for t in listed.json()["data"]] == ["Welcome"]
    assert (
        await client.delete(f"{BASE}/{template['id']}", headers=user.headers)
    ).status_code == 200
    assert (await client.get(f"{BASE}/{template['id']}", headers=user.headers)).status_code == 404


async def test_a_missing_variable_is_an_error_that_names_it(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    preview = await client.post(
        f"{BASE}/preview",
        json={"body": "Hi {{name}} from {{city}}", "variables": {"name": "Ben"}},
        headers=user.headers,
    )
    assert preview.status_code == 400, preview.text
    assert preview.json()["error"]["message"] == "Missing template variable: city"


async def test_the_sandbox_refuses_unsafe_templates(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    preview = await client.post(
        f"{BASE}/preview",
        json={"body": "{{ ''.__class__.__mro__[1].__subclasses__() }}"},
        headers=user.headers,
    )
    assert preview.status_code == 400, preview.text
    broken = await client.post(BASE, json={"name": "x", "body": "Hi {{name"}, headers=user.headers)
    assert broken.status_code == 400, broken.text
    assert "syntax" in broken.json()["error"]["message"]
    half_media = await client.post(
        BASE, json={"name": "x", "body": "Hi", "mediaUrl": "http://x/a.png"}, headers=user.headers
    )
    assert half_media.status_code == 400, half_media.text


async def test_another_users_templates_are_not_found(
    client: httpx.AsyncClient, user: TestUser, make_user: UserFactory
) -> None:
    template = await _template(client, user, name="Mine", body="Hello")
    other = await make_user()
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, f"{BASE}/{template['id']}", headers=other.headers, json={"name": "y"}
        )
        assert response.status_code == 404, (method, response.text)
    preview = await client.post(
        f"{BASE}/preview", json={"templateId": template["id"]}, headers=other.headers
    )
    assert preview.status_code == 404
