"""What the runs of one engine share, and what one run remembers between events."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wagate.config import Settings
from wagate.engines.base import EventSink
from wagate.engines.whatsmeow import incoming
from wagate.engines.whatsmeow.client import SessionClientFactory
from wagate.engines.whatsmeow.executor import DaemonExecutor
from wagate.engines.whatsmeow.ordering import ClientTables
from wagate.engines.whatsmeow.store import DeviceStore

WHATSAPP_HOST = ("web.whatsapp.com", 443)
QUOTE_CACHE = 512
QUOTE_MAX_BYTES = 64_000


@dataclass
class Shared:
    """What every run of the engine shares."""

    settings: Settings
    emit: EventSink
    store: DeviceStore
    factory: SessionClientFactory
    executor: DaemonExecutor
    linked: dict[str, str]  # session id -> device JID, mirror of the store
    tables: ClientTables = field(default_factory=ClientTables)  # orders calls, starts, stops
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


async def probe(settings: Settings) -> str | None:
    """Can the network reach WhatsApp (or the proxy)? None if it can, else why not.

    Checked before each connect because neonize opens a new database pool for
    every connect attempt and never closes it: failing here costs nothing.
    """
    host, port = WHATSAPP_HOST
    if settings.whatsmeow_proxy_url:
        parts = urlsplit(settings.whatsmeow_proxy_url)
        default_port = 1080 if parts.scheme.startswith("socks") else 80
        host, port = parts.hostname or "", parts.port or default_port
    timeout = settings.whatsmeow_connect_timeout
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return f"cannot reach {host}:{port}: {str(exc) or type(exc).__name__}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


class SessionMemory:
    """Hidden ids seen with their phone numbers, and recent messages (for quoting)."""

    def __init__(self) -> None:
        self.pn_for_lid: dict[str, str] = {}
        self.quotes: OrderedDict[str, tuple[str, Any]] = OrderedDict()

    def remember_quote(self, wa_id: str, participant: str, message: Any) -> None:
        if not wa_id or message is None or message.ByteSize() > QUOTE_MAX_BYTES:
            return
        self.quotes[wa_id] = (participant, message)
        self.quotes.move_to_end(wa_id)
        while len(self.quotes) > QUOTE_CACHE:
            self.quotes.popitem(last=False)

    def learn_lids(self, source: Any) -> None:
        """Note the phone JIDs a MessageSource carries beside hidden ids."""
        for lid_jid, pn_jid in (
            (source.Sender, source.SenderAlt),
            (source.Chat, source.RecipientAlt),
        ):
            lid, pn = incoming.jid_str(lid_jid), incoming.jid_str(pn_jid)
            if incoming.is_lid(lid) and pn.endswith("@" + incoming.USER_SERVER):
                self.pn_for_lid[lid] = pn
