"""Message templates: CRUD and previews. Rendering rules are in ``rendering``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.campaigns import contacts, rendering
from wagate.campaigns.models import Campaign, MessageTemplate
from wagate.campaigns.repository import CampaignRepository, TemplateRepository
from wagate.errors import AppError, ErrorCode, not_found

MEDIA_TYPES = ("image", "video", "document")


def _validation(message: str) -> AppError:
    return AppError(ErrorCode.VALIDATION_ERROR, message)


def _check(body: str, media_url: str | None, media_type: str | None) -> None:
    try:
        rendering.check(body)
    except rendering.TemplateSyntaxProblem as exc:
        raise _validation(f"body: {exc}") from None
    if (media_url is None) != (media_type is None):
        raise _validation("mediaUrl and mediaType go together")
    if media_type is not None and media_type not in MEDIA_TYPES:
        raise _validation(f"mediaType must be one of {', '.join(MEDIA_TYPES)}")


async def get(db: AsyncSession, user: User, template_id: uuid.UUID) -> MessageTemplate:
    template = await TemplateRepository(db).get(user.id, template_id)
    if template is None:
        raise not_found("Template")
    return template


async def list_owned(db: AsyncSession, user: User) -> Sequence[MessageTemplate]:
    repository = TemplateRepository(db)
    return await repository.get_all(repository.owned(user.id).order_by(MessageTemplate.created_at))


async def create(
    db: AsyncSession,
    user: User,
    *,
    name: str,
    body: str,
    media_url: str | None = None,
    media_type: str | None = None,
    defaults: dict[str, Any] | None = None,
) -> MessageTemplate:
    _check(body, media_url, media_type)
    template = MessageTemplate(
        user_id=user.id,
        name=name,
        body=body,
        media_url=media_url,
        media_type=media_type,
        defaults=dict(defaults or {}),
    )
    return await TemplateRepository(db).create(template)


async def update_template(
    db: AsyncSession, user: User, template_id: uuid.UUID, values: dict[str, Any]
) -> MessageTemplate:
    template = await get(db, user, template_id)
    merged = {
        "body": template.body,
        "media_url": template.media_url,
        "media_type": template.media_type,
        **values,
    }
    _check(merged["body"], merged["media_url"], merged["media_type"])
    return await TemplateRepository(db).update(template, values)


async def delete(db: AsyncSession, user: User, template_id: uuid.UUID) -> None:
    template = await get(db, user, template_id)
    repository = CampaignRepository(db)
    if await repository.count(repository.owned(user.id).where(Campaign.template_id == template.id)):
        raise AppError(ErrorCode.CONFLICT, "Template is used by a campaign")
    await TemplateRepository(db).delete(template)


def render_for(template_body: str, defaults: dict[str, Any], values: dict[str, Any]) -> str:
    """Render with ``values`` over the defaults; a missing variable is a 400 naming it."""
    try:
        return rendering.render(template_body, {**defaults, **values})
    except rendering.MissingVariable as exc:
        raise _validation(f"Missing template variable: {exc.name}") from None
    except rendering.TemplateSyntaxProblem as exc:
        raise _validation(str(exc)) from None


async def preview(
    db: AsyncSession,
    user: User,
    *,
    template_id: uuid.UUID | None = None,
    body: str | None = None,
    contact_id: uuid.UUID | None = None,
    variables: dict[str, Any] | None = None,
    first_contact: bool = False,
) -> str:
    """A template (stored, or a body being written) rendered for one contact
    (``first_contact``: the user's first, when they have any) and/or explicit
    variables."""
    defaults: dict[str, Any] = {}
    if template_id is not None:
        template = await get(db, user, template_id)
        body, defaults = template.body, template.defaults
    if body is None:
        raise _validation("body or a template is required")
    values: dict[str, Any] = {}
    contact = None
    if contact_id is not None:
        contact = await contacts.get(db, user, contact_id)
    elif first_contact:
        found, _ = await contacts.page(db, user, limit=1)
        contact = found[0] if found else None
    if contact is not None:
        values = rendering.variables_for(contact.name, contact.phone, contact.fields, {})
    return render_for(body, defaults, {**values, **(variables or {})})
