"""Who may reach how far: the outbound request policy, from the settings.

The administrator runs the gateway, so their webhooks and media URLs may reach
loopback and private ranges (an n8n or Node-RED beside a self-hosted gateway
is the common case). Other users' URLs reach public addresses only, unless
``WAGATE_ALLOW_PRIVATE_URLS`` extends the administrator's reach to everyone.
Link-local and cloud metadata addresses stay out of anyone's reach unless
``WAGATE_ALLOW_LINK_LOCAL_URLS`` lets them in too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.config import Settings
from wagate.net.ssrf import Reach


def url_reach(settings: Settings, *, is_admin: bool) -> Reach:
    """How far a URL given by an administrator (or by anyone else) may reach."""
    if not (is_admin or settings.allow_private_urls):
        return Reach.PUBLIC
    return Reach.ANY if settings.allow_link_local_urls else Reach.PRIVATE


async def url_reach_of(db: AsyncSession, settings: Settings, user_id: uuid.UUID) -> Reach:
    """:func:`url_reach` for the user with this id (a session's owner)."""
    is_admin = await db.scalar(select(User.is_admin).where(User.id == user_id))
    return url_reach(settings, is_admin=bool(is_admin))
