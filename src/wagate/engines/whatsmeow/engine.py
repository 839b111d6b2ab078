"""The real WhatsApp engine: whatsmeow (Go) through neonize's asyncio client.

The registry loads :class:`WhatsmeowEngine` from here. This module does not
import neonize: creating an engine does (see :mod:`.loader`), so wagate runs
without neonize installed until this engine is enabled. The work is done by
:class:`.sessions.WhatsmeowSessions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wagate.engines.base import (
    EngineContext,
    GroupInfo,
    IncomingMedia,
    NumberCheck,
    OutgoingMessage,
    Presence,
    SendReceipt,
)
from wagate.engines.whatsmeow.loader import load_neonize

if TYPE_CHECKING:
    from wagate.engines.whatsmeow.sessions import WhatsmeowSessions


class WhatsmeowEngine:
    """The :class:`wagate.engines.base.Engine` for real WhatsApp accounts."""

    name = "whatsmeow"

    def __init__(self, context: EngineContext) -> None:
        load_neonize()
        from wagate.engines.whatsmeow.sessions import WhatsmeowSessions

        self._sessions: WhatsmeowSessions = WhatsmeowSessions(context)

    async def open(self) -> None:
        await self._sessions.open()

    async def close(self) -> None:
        await self._sessions.close()

    async def start_session(self, session_id: str) -> None:
        await self._sessions.start_session(session_id)

    async def request_pairing_code(self, session_id: str, phone_number: str) -> str:
        return await self._sessions.request_pairing_code(session_id, phone_number)

    async def stop_session(self, session_id: str) -> None:
        await self._sessions.stop_session(session_id)

    async def logout(self, session_id: str) -> None:
        await self._sessions.logout(session_id)

    def is_linked(self, session_id: str) -> bool:
        return self._sessions.is_linked(session_id)

    def new_message_id(self, session_id: str) -> str:
        return self._sessions.new_message_id(session_id)

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt:
        return await self._sessions.send(session_id, message)

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]:
        return await self._sessions.check_numbers(session_id, numbers)

    async def list_groups(self, session_id: str) -> list[GroupInfo]:
        return await self._sessions.list_groups(session_id)

    async def get_group(self, session_id: str, jid: str) -> GroupInfo:
        return await self._sessions.get_group(session_id, jid)

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None = None
    ) -> None:
        await self._sessions.mark_read(session_id, chat, message_ids, sender)

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None:
        await self._sessions.send_presence(session_id, chat, presence)

    async def download_media(self, session_id: str, media: IncomingMedia) -> bytes:
        return await self._sessions.download_media(session_id, media)
