"""Which proxy whatsmeow dials WhatsApp through, decided the way Go decides it.

whatsmeow's HTTP and websocket clients use ``WAGATE_WHATSMEOW_PROXY_URL`` when
wagate passes one, and otherwise Go's ``http.ProxyFromEnvironment``: for an
``https://`` URL that is ``HTTPS_PROXY`` (or ``https_proxy``; the upper case
wins, ``HTTP_PROXY`` is never used), unless ``NO_PROXY`` (or ``no_proxy``)
names the host. Go reads the environment once per process, so this reads it
whenever asked, which agrees with Go as long as nobody edits the environment
after start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

WHATSAPP_HOST, WHATSAPP_PORT = "web.whatsapp.com", 443
_DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


@dataclass(frozen=True, slots=True)
class Proxy:
    url: str
    host: str
    port: int


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.upper()) or environ.get(name.lower()) or ""


def bypassed(no_proxy: str, host: str = WHATSAPP_HOST, port: int = WHATSAPP_PORT) -> bool:
    """Whether Go's ``NO_PROXY`` rules send ``host:port`` direct (host names only)."""
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        if name.startswith("*."):
            name = name[1:]
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def parse(url: str) -> Proxy | None:
    """A proxy URL as Go reads it (no scheme means ``http://``); None if it is not one."""
    try:
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            parts = urlsplit("http://" + url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return Proxy(url=parts.geturl(), host=parts.hostname, port=port)


def whatsmeow_proxy(
    configured: str | None, environ: Mapping[str, str] | None = None
) -> Proxy | None:
    """The proxy whatsmeow uses to reach ``web.whatsapp.com``, or None when it dials direct."""
    if configured:
        return parse(configured)
    environ = os.environ if environ is None else environ
    from_env = _env(environ, "https_proxy")
    if not from_env or bypassed(_env(environ, "no_proxy")):
        return None
    return parse(from_env)
