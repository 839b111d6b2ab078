"""``create_app(settings)``: the only place where wagate is wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from wagate.analytics import ratelimit
from wagate.analytics.api_calls import ApiCallBuffer
from wagate.analytics.metrics import Metrics
from wagate.analytics.middleware import RequestAccountingMiddleware
from wagate.analytics.router import metrics_router
from wagate.analytics.router import router as analytics_router
from wagate.auth import cache as credential_cache
from wagate.auth import service as auth_service
from wagate.auth.admin_router import router as admin_router
from wagate.auth.router import router as auth_router
from wagate.campaigns import router as campaigns
from wagate.campaigns.inbound import BroadcastInbound
from wagate.campaigns.runner import CampaignRunner
from wagate.config import Settings
from wagate.dashboard import router as dashboard
from wagate.engines.base import EngineContext
from wagate.engines.registry import create_engine
from wagate.errors import install_error_handlers
from wagate.events.reader import OutboxReader
from wagate.events.service import outbox_signal
from wagate.faces import MOUNTED as FACES
from wagate.faces.broadcaster.router import router as broadcaster_router
from wagate.faces.channels.client_script import router as socketio_client_router
from wagate.faces.channels.router import router as channels_router
from wagate.faces.channels.socket import ChannelSocket
from wagate.faces.json_body import JsonBodyMiddleware
from wagate.faces.multisession.router import router as multisession_router
from wagate.faces.multisession.ws import router as multisession_ws_router
from wagate.health.router import router as health_router
from wagate.live.hub import LiveHub
from wagate.live.router import router as live_router
from wagate.live.router import user_router as live_user_router
from wagate.logs import RequestContextMiddleware, configure_logging
from wagate.memory import keep_large_blocks_unmapped
from wagate.messages.inbound import InboundHandler
from wagate.messages.media import MediaStore
from wagate.messages.queue import OutboundQueue
from wagate.messages.router import router as messages_router
from wagate.messages.send_router import router as send_router
from wagate.messages.upload_limits import UploadLimitMiddleware, base64_limits, upload_limits
from wagate.net.fetch import GuardedClients
from wagate.net.forwarded import TrustedProxies
from wagate.private_files import make_private_dir
from wagate.sandbox_api.router import router as sandbox_router
from wagate.sessions.manager import SessionManager
from wagate.sessions.router import router as sessions_router
from wagate.storage.db import Database, is_sqlite
from wagate.storage.migrate import migrate
from wagate.webhooks.dispatcher import WebhookDispatcher
from wagate.webhooks.relay import WebhookRelay
from wagate.webhooks.router import router as webhooks_router

logger = logging.getLogger("wagate")

# Any request body but media uploads (which have limits of their own).
DEFAULT_BODY_LIMIT = 1024 * 1024


async def bootstrap_admin(database: Database, settings: Settings) -> None:
    async with database.transaction() as db:
        created = await auth_service.ensure_admin(
            db,
            email=settings.admin_email,
            password=settings.admin_password,
            username=settings.admin_username,
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
    keep_large_blocks_unmapped()  # argon2's 19 MiB per hash would stay resident

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every part registers its own shut-down as it starts, so a failed
        # start-up closes exactly what was opened, in reverse order.
        async with AsyncExitStack() as stack:
            make_private_dir(settings.data_dir)
            settings.resolved_secret_key  # noqa: B018  (create the key file before serving)
            database = Database.from_settings(settings)
            stack.push_async_callback(database.dispose)
            # Credentials resolved from memory, dropped at once when changed (here
            # or by another process on the same data folder, such as the CLI).
            stack.callback(credential_cache.install(database, settings.data_dir).close)
            stack.push_async_callback(app.state.rate_limiter.close)
            if settings.auto_migrate:
                await migrate(database)
            await bootstrap_admin(database, settings)

            http_clients = GuardedClients(timeout=settings.media_fetch_timeout)
            stack.push_async_callback(http_clients.aclose)
            media_store = MediaStore(settings.data_dir / "media")
            manager = SessionManager(database, settings)
            for name in settings.engines:
                context = EngineContext(
                    settings=settings, emit=manager.handle_event, data_dir=settings.data_dir
                )
                hosted = name in settings.engine_hosted
                manager.add_engine(create_engine(name, context, hosted=hosted))
            metrics = app.state.metrics
            InboundHandler(manager, media_store, settings.base_url, metrics).register()
            BroadcastInbound(manager, settings.broadcast_opt_out_words).register()
            queue = OutboundQueue(database, manager, media_store, settings, metrics)

            app.state.database = database
            app.state.http_clients = http_clients
            # Fires after every commit that wrote an outbox event (tests await it).
            app.state.outbox_signal = outbox_signal(database)
            app.state.media_store = media_store
            app.state.session_manager = manager
            app.state.outbound_queue = queue

            stack.push_async_callback(app.state.api_calls.close)
            await app.state.api_calls.start(database, settings.analytics_flush_seconds)
            stack.push_async_callback(manager.close)
            await manager.start()
            stack.push_async_callback(queue.close)
            await queue.start()
            campaign_runner = CampaignRunner(database, manager, queue, settings)
            app.state.campaign_runner = campaign_runner
            stack.push_async_callback(campaign_runner.close)
            await campaign_runner.start()
            relay = WebhookRelay(postgres=not is_sqlite(database.url))
            dispatcher = WebhookDispatcher(database, settings, metrics=metrics, relay=relay)
            app.state.webhook_dispatcher = dispatcher
            stack.push_async_callback(dispatcher.close)
            await dispatcher.start()
            live_hub = LiveHub(database, queue_size=settings.live_queue_size)
            app.state.live_hub = live_hub
            stack.push_async_callback(live_hub.close)
            await live_hub.start()
            # The outbox's one reader feeds the webhook relay and the live hub.
            reader = OutboxReader(
                database,
                [live_hub, relay],
                poll_seconds=settings.webhook_poll_seconds,
            )
            app.state.outbox_reader = reader
            stack.push_async_callback(reader.close)
            await reader.start()
            yield

    app = FastAPI(
        title="wagate",
        version="0.1.0",
        description="Self-hosted multi-session WhatsApp HTTP API gateway",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.trusted_proxies = TrustedProxies(settings.trusted_proxies)
    app.state.metrics = Metrics()
    app.state.api_calls = ApiCallBuffer()
    app.state.rate_limiter = ratelimit.RateLimiter.from_settings(settings)
    # The mounted faces: each renders its own errors, and its routes get rate limits.
    app.state.faces = FACES
    configure_logging(settings)
    install_error_handlers(app)
    app.add_exception_handler(dashboard.PageError, dashboard.page_error_handler)
    # Innermost: retype JSON sent as a form or untyped (the size guard counts it first).
    app.add_middleware(JsonBodyMiddleware, faces=FACES)
    app.add_middleware(
        UploadLimitMiddleware,
        limits={
            **upload_limits(settings),
            **dashboard.upload_limits(settings),
            **campaigns.upload_limits(settings),
        },
        default_limit=DEFAULT_BODY_LIMIT,
        json_limits=base64_limits(settings),
    )
    app.add_middleware(
        RequestAccountingMiddleware, metrics=app.state.metrics, api_calls=app.state.api_calls
    )
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origins:
        # Outermost, so preflights and error responses carry the CORS headers too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-Id",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
            ],
        )

    routers = [health_router, auth_router, sessions_router, send_router, messages_router]
    routers += [webhooks_router, live_router, live_user_router, campaigns.router]
    routers += [analytics_router, metrics_router, admin_router]
    # After the native face, whose /api/v1 paths the multi-session face's /api never takes.
    routers += [multisession_router, multisession_ws_router]
    routers += [channels_router]
    # The broadcaster face: /api/v1/whatsapp, its own error shape (faces/broadcaster).
    routers += [broadcaster_router]
    if "sandbox" in settings.engines:
        routers.append(sandbox_router)
    # Before the dashboard's pages, whose catch-all would otherwise answer for its files.
    app.mount(dashboard.STATIC_PREFIX, StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    # The channel face's Socket.IO server (its client script's route first).
    app.include_router(socketio_client_router)
    app.mount("/socket.io", ChannelSocket(app, settings).asgi_app(), name="socket.io")
    routers.append(dashboard.router)
    for router in routers:
        # Each /api/v1 route with its rate limit (analytics/ratelimit.py).
        ratelimit.include_router(app, router, enabled=settings.rate_limit_enabled)
    return app
