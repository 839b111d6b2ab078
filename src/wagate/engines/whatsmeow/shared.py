"""What the runs of one engine share, and what one run remembers between events."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from wagate.config import Settings
from wagate.engines.base import EventSink
from wagate.engines.whatsmeow import incoming
from wagate.engines.whatsmeow.client import SessionClientFactory
from wagate.engines.whatsmeow.executor import DaemonExecutor
from wagate.engines.whatsmeow.ordering import ClientTables
from wagate.engines.whatsmeow.proxy import WHATSAPP_HOST, WHATSAPP_PORT, whatsmeow_proxy
from wagate.engines.whatsmeow.store import DeviceStore

QUOTE_CACHE = 512
QUOTE_MAX_BYTES = 64_000
ADDRESSING_CACHE = 4096


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
    """Can the network reach WhatsApp (or the proxy whatsmeow would use)? None if it can,
    else why not.

    Checked before each connect because neonize opens a new database pool for
    every connect attempt and never closes it: failing here costs nothing.
    """
    host, port = WHATSAPP_HOST, WHATSAPP_PORT
    proxy = whatsmeow_proxy(settings.whatsmeow_proxy_url)
    if proxy is not None:
        host, port = proxy.host, proxy.port
    elif settings.whatsmeow_proxy_url:
        return f"the proxy URL {settings.whatsmeow_proxy_url!r} is not valid"
    timeout = settings.whatsmeow_connect_timeout
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        via = " (the proxy)" if proxy is not None else ""
        return f"cannot reach {host}:{port}{via}: {str(exc) or type(exc).__name__}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


class SessionMemory:
    """Hidden ids seen with their phone numbers, and recent messages (for quoting)."""

    def __init__(self) -> None:
        self.pn_for_lid: dict[str, str] = {}
        self.quotes: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        # (chat, sender) as wagate reports them -> as WhatsApp addressed them (hidden ids)
        self.addressed: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()

    def remember_addressing(self, reported: tuple[str, str], addressed: tuple[str, str]) -> None:
        """Note that a chat (and sender) reported by phone number was addressed by hidden
        ids, so receipts for it go where WhatsApp expects them."""
        if reported == addressed:
            return
        self.addressed[reported] = addressed
        self.addressed.move_to_end(reported)
        while len(self.addressed) > ADDRESSING_CACHE:
            self.addressed.popitem(last=False)

    def receipt_parties(self, chat: str, sender: str) -> tuple[str, str]:
        """Chat and sender for a read receipt: as WhatsApp addressed the messages."""
        return self.addressed.get((chat, sender), (chat, sender))

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
