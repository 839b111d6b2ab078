from __future__ import annotations

import uuid

from sqlalchemy import Select, select

from wagate.sessions.models import SessionState, SessionTransition, WhatsAppSession
from wagate.storage.repository import RepositoryBase


class SessionRepository(RepositoryBase[WhatsAppSession]):
    model = WhatsAppSession

    def owned_by(self, user_id: uuid.UUID) -> Select[WhatsAppSession]:
        """Every read of a user's sessions starts here."""
        return self.base_statement().where(WhatsAppSession.user_id == user_id)

    async def list_for(self, user_id: uuid.UUID) -> list[WhatsAppSession]:
        statement = self.owned_by(user_id).order_by(WhatsAppSession.created_at)
        return list(await self.get_all(statement))

    async def get_for(self, user_id: uuid.UUID, session_id: uuid.UUID) -> WhatsAppSession | None:
        return await self.get_one_or_none(
            self.owned_by(user_id).where(WhatsAppSession.id == session_id)
        )

    async def count_for(self, user_id: uuid.UUID) -> int:
        return await self.count(self.owned_by(user_id))

    async def get_by_key_hash(self, key_hash: str) -> WhatsAppSession | None:
        return await self.get_one_or_none(
            self.base_statement().where(WhatsAppSession.api_key_hash == key_hash)
        )

    async def get_by_id(self, session_id: uuid.UUID) -> WhatsAppSession | None:
        """Unscoped: for the session manager, which acts for the engine, not for a user."""
        return await self.session.get(WhatsAppSession, session_id)

    async def connected(self, among: set[uuid.UUID] | None = None) -> list[WhatsAppSession]:
        """Sessions stored as connected (of ``among``, when given)."""
        statement = self.base_statement().where(WhatsAppSession.state == SessionState.CONNECTED)
        if among is not None:
            statement = statement.where(WhatsAppSession.id.in_(among))
        return list(await self.get_all(statement))

    async def to_resume(self) -> list[WhatsAppSession]:
        """Sessions with a linked device that were not ended by a person or a ban."""
        statement = self.base_statement().where(
            WhatsAppSession.linked.is_(True),
            WhatsAppSession.state.not_in([SessionState.LOGGED_OUT, SessionState.FAILED]),
        )
        return list(await self.get_all(statement))

    async def waiting_for_link(self) -> list[WhatsAppSession]:
        statement = self.base_statement().where(
            WhatsAppSession.linked.is_(False),
            WhatsAppSession.state.in_(
                [SessionState.PENDING, SessionState.QR, SessionState.PAIRING_CODE]
            ),
        )
        return list(await self.get_all(statement))


class TransitionRepository(RepositoryBase[SessionTransition]):
    model = SessionTransition

    async def history(self, session_id: uuid.UUID, limit: int = 100) -> list[SessionTransition]:
        statement = (
            select(SessionTransition)
            .where(SessionTransition.session_id == session_id)
            .order_by(SessionTransition.created_at.desc())
            .limit(limit)
        )
        return list(await self.get_all(statement))
