"""History sync: the past messages a phone shares with a device it links.

What the phone sends is asked for when linking (``DeviceProps``): nothing beyond
its default bootstrap when the setting is ``off`` (and wagate does not listen),
about ``WAGATE_WHATSMEOW_HISTORY_DAYS`` days for ``recent``, everything it keeps
for ``full``. whatsmeow downloads each batch and hands it over as one
``HistorySync`` event; this maps a batch to a :class:`HistorySyncEvent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import HistorySync

from wagate.engines.base import HistorySyncEvent, IncomingMessage
from wagate.engines.whatsmeow.incoming import content_of, is_lid, timestamp_of, unwrap

HISTORY_EVENT = 13
STATUS_BROADCAST = "status@broadcast"
_KINDS = {
    HistorySync.INITIAL_BOOTSTRAP: "initial",
    HistorySync.RECENT: "recent",
    HistorySync.FULL: "full",
    HistorySync.ON_DEMAND: "on_demand",
}


def device_props(device_name: str, history: str, days: int) -> Any:
    """What the device tells the phone when linking: its name, and how much history."""
    props = DeviceProps(os=device_name, platformType=DeviceProps.CHROME)
    props.requireFullSync = history == "full"
    if history == "recent":
        props.historySyncConfig.fullSyncDaysLimit = days
        props.historySyncConfig.recentSyncDaysLimit = days
    return props


def oldest_wanted(history: str, days: int, now: datetime | None = None) -> datetime | None:
    """Messages older than this are dropped (the phone may send more than asked)."""
    if history != "recent":
        return None
    return (now or datetime.now(UTC)) - timedelta(days=days)


def _bare(jid: str) -> str:
    """``user:device@server`` -> ``user@server``."""
    user, _, server = jid.partition("@")
    return f"{user.partition(':')[0]}@{server}" if server else ""


def history_message(
    info: Any, *, own_jid: str, pn_for_lid: Mapping[str, str]
) -> IncomingMessage | None:
    """One ``WebMessageInfo`` of a batch as an incoming message; None for what wagate skips
    (status updates, protocol messages, edits, kinds it does not carry)."""
    key = info.key
    chat = _bare(key.remoteJID)
    if not chat or chat == STATUS_BROADCAST or not key.ID or not info.HasField("message"):
        return None
    message, edited = unwrap(info.message)
    if edited or message.HasField("protocolMessage"):
        return None
    content = content_of(message)
    if content is None:
        return None
    if is_lid(chat):
        chat = pn_for_lid.get(chat, chat)
    if key.fromMe:
        sender = own_jid or chat
    elif chat.endswith("@g.us"):
        sender = _bare(key.participant or info.participant)
    else:
        sender = chat
    sender_lid = None
    if is_lid(sender):
        sender_lid, sender = sender, pn_for_lid.get(sender, sender)
    return content.message(
        message_id=key.ID,
        chat=chat,
        sender=sender or chat,
        timestamp=timestamp_of(info.messageTimestamp),
        from_me=bool(key.fromMe),
        push_name=info.pushName or None,
        sender_lid=sender_lid,
    )


def map_history(
    session_id: str,
    sync: Any,
    *,
    own_jid: str,
    since: datetime | None = None,
    pn_for_lid: Mapping[str, str] | None = None,
) -> HistorySyncEvent | None:
    """A batch (neonize's ``HistorySync.Data``) as one event, oldest message first; None
    when it carries no message wagate keeps (push names, status updates...)."""
    kind = _KINDS.get(sync.syncType)
    if kind is None:
        return None
    messages: list[IncomingMessage] = []
    for conversation in sync.conversations:
        for item in conversation.messages:
            message = history_message(item.message, own_jid=own_jid, pn_for_lid=pn_for_lid or {})
            if message is not None and (since is None or message.timestamp >= since):
                messages.append(message)
    if not messages:
        return None
    messages.sort(key=lambda message: message.timestamp)
    progress = sync.progress if sync.HasField("progress") else None
    return HistorySyncEvent(session_id, tuple(messages), kind, progress)
