from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select

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

    async def get_by_phone(self, user_id: uuid.UUID, number: str) -> WhatsAppSession | None:
        """The user's session that linked ``number``, else the one that declared it
        (the oldest, should several have said so)."""
        linked = WhatsAppSession.phone_number == number
        statement = (
            self.owned_by(user_id)
            .where(or_(linked, WhatsAppSession.declared_phone == number))
            .order_by(linked.desc(), WhatsAppSession.created_at)
            .limit(1)
        )
        return await self.get_one_or_none(statement)

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
            WhatsAppSession.state.not_in(
                [SessionState.LOGGED_OUT, SessionState.FAILED, SessionState.STOPPED]
            ),
        )
        return list(await self.get_all(statement))

    async def waiting_for_link(self) -> list[WhatsAppSession]:
        """Unlinked sessions that showed a QR or pairing code. A ``pending`` one
        may be idle by design (created without linking): it is left as it is."""
        statement = self.base_statement().where(
            WhatsAppSession.linked.is_(False),
            WhatsAppSession.state.in_([SessionState.QR, SessionState.PAIRING_CODE]),
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
