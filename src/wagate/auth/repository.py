from __future__ import annotations

import uuid

from sqlalchemy import Select, update

from wagate.auth.models import ApiKey, User
from wagate.storage.repository import RepositoryBase


class UserRepository(RepositoryBase[User]):
    model = User

    async def get_by_id(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def list_all(self) -> list[User]:
        return list(await self.get_all(self.base_statement().order_by(User.created_at)))

    async def get_by_email(self, email: str) -> User | None:
        return await self.get_one_or_none(self.base_statement().where(User.email == email))

    async def get_by_username(self, username: str) -> User | None:
        return await self.get_one_or_none(self.base_statement().where(User.username == username))

    async def lock(self, user_id: uuid.UUID) -> None:
        """Serialise this user's quota checks until the transaction ends: a row lock
        on PostgreSQL, the write lock on SQLite (an update is what takes either)."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(updated_at=User.updated_at)
            # A lock, not a change: the credential cache keeps its users.
            .execution_options(synchronize_session=False, wagate_credentials_unchanged=True)
        )

    async def admin_exists(self) -> bool:
        return await self.count(self.base_statement().where(User.is_admin.is_(True))) > 0


class ApiKeyRepository(RepositoryBase[ApiKey]):
    model = ApiKey

    def owned_by(self, user_id: uuid.UUID) -> Select[ApiKey]:
        """Every read of a user's keys starts here."""
        return self.base_statement().where(ApiKey.user_id == user_id)

    async def list_for(self, user_id: uuid.UUID) -> list[ApiKey]:
        statement = self.owned_by(user_id).order_by(ApiKey.created_at.desc())
        return list(await self.get_all(statement))

    async def get_for(self, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
        return await self.get_one_or_none(self.owned_by(user_id).where(ApiKey.id == key_id))

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self.get_one_or_none(self.base_statement().where(ApiKey.key_hash == key_hash))
