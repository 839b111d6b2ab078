"""The ``wagate`` command."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from wagate.config import Settings
from wagate.lazy_imports import hidden_libraries

# uvicorn imports watchfiles for --reload when it is installed (1.5 MB); wagate
# serves without reloading.
with hidden_libraries("watchfiles"):
    import uvicorn

app = typer.Typer(help="wagate: a self-hosted WhatsApp HTTP API gateway", no_args_is_help=True)
user_app = typer.Typer(help="Manage users", no_args_is_help=True)
app.add_typer(user_app, name="user")
sandbox_app = typer.Typer(help="The sandbox WhatsApp network", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Serve the API, the dashboard and the workers."""
    from wagate.app import create_app
    from wagate.net.forwarded import server_options

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    typer.echo(f"wagate serving on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        **server_options(settings.trusted_proxies),
    )


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    from wagate.storage.db import Database
    from wagate.storage.migrate import migrate as run_migrations

    async def _run() -> None:
        database = Database.from_settings(Settings())
        try:
            await run_migrations(database)
        finally:
            await database.dispose()

    asyncio.run(_run())
    typer.echo("database is up to date")


def _with_database(
    action: str,
    email: str,
    password: str = "",
    admin: bool = False,
    username: str | None = None,
) -> None:
    from wagate.auth import cache as credential_cache
    from wagate.auth import service
    from wagate.errors import AppError
    from wagate.storage.db import Database
    from wagate.storage.migrate import migrate as run_migrations

    async def _run() -> str:
        settings = Settings()
        database = Database.from_settings(settings)
        # Tells a running server (same data folder) that credentials changed.
        cache = credential_cache.install(database, settings.data_dir)
        try:
            await run_migrations(database)
            async with database.transaction() as db:
                if action == "create":
                    user = await service.create_user(
                        db, email=email, password=password, is_admin=admin, username=username
                    )
                    return f"created user {user.email} ({user.id})"
                user = await service.user_by_email(db, email)
                if action == "set-password":
                    await service.set_password(db, user, password)
                    return f"password of {user.email} changed; tokens issued before no longer work"
                await service.set_active(db, user, action == "activate")
                if action == "activate":
                    return f"{user.email} activated"
                return f"{user.email} deactivated: every token and key of theirs stops working"
        finally:
            await database.dispose()
            cache.close()

    try:
        typer.echo(asyncio.run(_run()))
    except AppError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Login email")],
    password: Annotated[str, typer.Option(help="Password", prompt=True, hide_input=True)],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator")] = False,
    username: Annotated[
        str | None, typer.Option(help="Username (logins accept it in place of the email)")
    ] = None,
) -> None:
    """Create a user."""
    _with_database("create", email, password, admin, username)


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Option(help="Login email")],
    password: Annotated[str, typer.Option(help="New password", prompt=True, hide_input=True)],
) -> None:
    """Set a user's password (for a lost admin password)."""
    _with_database("set-password", email, password)


@user_app.command("deactivate")
def user_deactivate(email: Annotated[str, typer.Option(help="Login email")]) -> None:
    """Deactivate a user: their logins, tokens, user keys and session keys stop at once."""
    _with_database("deactivate", email)


@user_app.command("activate")
def user_activate(email: Annotated[str, typer.Option(help="Login email")]) -> None:
    """Activate a deactivated user again (they log in anew; their keys work again)."""
    _with_database("activate", email)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="Port for the sandbox network's WebSocket")] = 3001,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
) -> None:
    """Run the sandbox network as its own process; gateways reach it with
    WAGATE_SANDBOX_URL=ws://HOST:PORT."""
    from wagate.engines.sandbox.server import run

    settings = Settings()
    typer.echo(f"sandbox network on ws://{host}:{port} (data in {settings.data_dir / 'sandbox'})")
    run(host, port, settings.data_dir)


@app.command()
def demo(
    url: Annotated[str, typer.Option(help="The running wagate server")] = "http://127.0.0.1:3000",
    email: Annotated[str | None, typer.Option(help="Login email (default: the admin)")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password (default: the saved admin one)")
    ] = None,
) -> None:
    """Walk through linking a sandbox phone and messaging both ways, step by step."""
    import httpx

    from wagate.demo import DemoError, admin_login_from, run_demo

    if email is None or password is None:
        saved = admin_login_from(Settings().data_dir)
        if saved is None:
            typer.echo("error: give --email and --password (no saved admin login found)", err=True)
            raise typer.Exit(1)
        email, password = email or saved[0], password or saved[1]
    try:
        run_demo(url, email, password, typer.echo)
    except (DemoError, httpx.HTTPError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
