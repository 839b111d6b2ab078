"""``create_app(settings)``: the only place where wagate is wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wagate.auth import service as auth_service
from wagate.auth.router import router as auth_router
from wagate.config import Settings
from wagate.errors import install_error_handlers
from wagate.health.router import router as health_router
from wagate.logs import RequestContextMiddleware, configure_logging
from wagate.storage.db import Database
from wagate.storage.migrate import migrate

logger = logging.getLogger("wagate")


async def bootstrap_admin(database: Database, settings: Settings) -> None:
    async with database.transaction() as db:
        created = await auth_service.ensure_admin(
            db, email=settings.admin_email, password=settings.admin_password
        )
    if created is None:
        return
    if created.generated_password:
        # Kept beside the database so a newcomer who missed the banner can find it.
        path = settings.data_dir / "admin-password.txt"
        path.write_text(f"{created.email}\n{created.generated_password}\n")
        path.chmod(0o600)
        banner = (
            "\n  wagate admin login (shown once, also saved in "
            f"{path}):\n    email:    {created.email}\n    password: {created.generated_password}\n"
        )
        print(banner, flush=True)
    logger.info("administrator %s is ready", created.email)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.resolved_secret_key  # noqa: B018  (create the key file before serving)
        database = Database.from_settings(settings)
        app.state.database = database
        try:
            if settings.auto_migrate:
                await migrate(database)
            await bootstrap_admin(database, settings)
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="wagate",
        version="0.1.0",
        description="Self-hosted multi-session WhatsApp HTTP API gateway",
        lifespan=lifespan,
    )
    app.state.settings = settings
    configure_logging(settings)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    for router in (health_router, auth_router):
        app.include_router(router)
    return app
