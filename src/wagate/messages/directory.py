"""What a session asks the network: who is on WhatsApp, its groups; and what it
tells it (presence). Engine refusals become API errors in ``engine_calls``."""

from __future__ import annotations

from wagate.engines.base import GroupInfo, NumberCheck, Presence
from wagate.sessions.engine_calls import engine_errors
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession


async def check_numbers(
    manager: SessionManager, session: WhatsAppSession, numbers: list[str]
) -> list[NumberCheck]:
    """``numbers`` normalized (digits only)."""
    engine = manager.engine(session.engine)
    with engine_errors():
        return await engine.check_numbers(str(session.id), numbers)


async def groups(manager: SessionManager, session: WhatsAppSession) -> list[GroupInfo]:
    engine = manager.engine(session.engine)
    with engine_errors():
        return await engine.list_groups(str(session.id))


async def group(manager: SessionManager, session: WhatsAppSession, jid: str) -> GroupInfo:
    engine = manager.engine(session.engine)
    with engine_errors():
        return await engine.get_group(str(session.id), jid)


async def send_presence(
    manager: SessionManager, session: WhatsAppSession, chat: str, presence: Presence
) -> None:
    engine = manager.engine(session.engine)
    with engine_errors():
        await engine.send_presence(str(session.id), chat, presence)
