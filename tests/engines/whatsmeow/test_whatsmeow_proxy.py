"""The network pre-check goes where whatsmeow goes: through the configured proxy, else
through ``HTTPS_PROXY`` unless ``NO_PROXY`` names WhatsApp, else direct."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wagate.engines.base import DisconnectedEvent, DisconnectReason
from wagate.engines.registry import create_engine
from wagate.engines.whatsmeow.proxy import Proxy, bypassed, whatsmeow_proxy
from wagate.engines.whatsmeow.shared import probe


def test_the_configured_proxy_wins_over_the_environment() -> None:
    environ = {"HTTPS_PROXY": "http://env-proxy:3128"}
    assert whatsmeow_proxy("socks5://127.0.0.1:9050", environ) == Proxy(
        "socks5://127.0.0.1:9050", "127.0.0.1", 9050
    )
    assert whatsmeow_proxy(None, environ) == Proxy("http://env-proxy:3128", "env-proxy", 3128)
    assert whatsmeow_proxy(None, {}) is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"https_proxy": "http://lower:8080"}, ("lower", 8080)),
        ({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}, ("upper", 1)),
        ({"HTTP_PROXY": "http://only-http:3128"}, None),  # Go never uses it for https
        ({"HTTPS_PROXY": "proxy.lan:3128"}, ("proxy.lan", 3128)),  # no scheme: http
        ({"HTTPS_PROXY": "http://proxy.lan"}, ("proxy.lan", 80)),
        ({"HTTPS_PROXY": "https://proxy.lan"}, ("proxy.lan", 443)),
        ({"HTTPS_PROXY": "socks5://proxy.lan"}, ("proxy.lan", 1080)),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "whatsapp.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".whatsapp.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*.whatsapp.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "localhost, *"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "web.whatsapp.com:443"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "web.whatsapp.com:80"}, ("p", 1)),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "notwhatsapp.com,10.0.0.0/8"}, ("p", 1)),
    ],
)
def test_environment_like_go(environ: dict[str, str], expected: tuple[str, int] | None) -> None:
    proxy = whatsmeow_proxy(None, environ)
    assert (None if proxy is None else (proxy.host, proxy.port)) == expected


def test_no_proxy_matches_domains_not_substrings() -> None:
    assert bypassed("WhatsApp.com")
    assert not bypassed("app.com")
    assert not bypassed("")


async def test_probe_goes_through_the_environment_proxy(
    make_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = make_context(whatsmeow_proxy_url=None).settings
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{port}")
    try:
        assert await probe(settings) is None  # the proxy answered; nothing dialled WhatsApp
    finally:
        server.close()
        await server.wait_closed()
    problem = await probe(settings)
    assert problem is not None and f"127.0.0.1:{port} (the proxy)" in problem


async def test_a_broken_proxy_url_is_a_problem(make_context: Any) -> None:
    for url in ("http://proxy.lan:port", "http://[::1"):
        problem = await probe(make_context(whatsmeow_proxy_url=url).settings)
        assert problem is not None and "not valid" in problem


async def test_session_behind_an_unreachable_environment_proxy(
    make_context: Any, recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing = make_context().settings.whatsmeow_proxy_url  # a loopback port nobody listens on
    context = make_context(whatsmeow_proxy_url=None)
    monkeypatch.setenv("HTTPS_PROXY", refusing)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    engine = create_engine("whatsmeow", context)
    await engine.open()
    try:
        await engine.start_session("s1")
        event = await recorder.wait_for(DisconnectedEvent, "s1")
        assert event.reason is DisconnectReason.CONNECT_FAILURE and not event.will_retry
        where = refusing.removeprefix("http://")
        assert event.detail is not None and f"{where} (the proxy)" in event.detail
    finally:
        await engine.close()
