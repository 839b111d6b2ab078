"""Incoming messages, receipts and group changes of a running session.

Before the pure mapping of :mod:`.incoming`, this resolves what needs a look-up:
hidden ``@lid`` ids through whatsmeow's LID store, and WhatsApp's ids of
messages wagate sent back to wagate's own ids (see :mod:`.store`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from wagate.engines.base import EngineError, GroupUpdateEvent, IncomingMessage, MessageEvent
from wagate.engines.whatsmeow import incoming
from wagate.engines.whatsmeow.client import parse_jid
from wagate.engines.whatsmeow.errors import engine_errors
from wagate.engines.whatsmeow.history import (
    HISTORY_EVENT,
    STATUS_BROADCAST,
    map_history,
    oldest_wanted,
)

if TYPE_CHECKING:
    from wagate.engines.whatsmeow.runtime import SessionRun

logger = logging.getLogger(__name__)

MESSAGE, RECEIPT, JOINED_GROUP, GROUP_INFO, UNDECRYPTABLE = 17, 18, 21, 22, 44
INBOUND_CODES = frozenset(
    {MESSAGE, RECEIPT, JOINED_GROUP, GROUP_INFO, UNDECRYPTABLE, HISTORY_EVENT}
)


async def handle_inbound(run: SessionRun, code: int, event: Any) -> None:
    if code == MESSAGE:
        await _message(run, event)
    elif code == UNDECRYPTABLE:
        await _undecryptable(run, event)
    elif code == HISTORY_EVENT:
        await _history(run, event)
    elif code == RECEIPT:
        await _receipt(run, event)
    elif code == JOINED_GROUP:
        group = incoming.map_group_info(event.GroupInfo)
        await run.emit(GroupUpdateEvent(run.session_id, group, joined=True))
    elif code == GROUP_INFO:
        await _group_info(run, event)


async def resolve_lids(run: SessionRun, lids: set[str]) -> None:
    """Ask whatsmeow's LID store for the phone JIDs of ``lids`` not known yet."""
    for lid in lids - run.memory.pn_for_lid.keys():
        client = run.usable_client()
        if client is None:
            return
        try:
            with engine_errors("resolve a hidden id"):
                found = await client.get_pn_from_lid(parse_jid(lid))
        except EngineError as exc:
            logger.debug("whatsmeow %s: no phone number for %s: %s", run.session_id, lid, exc)
            continue
        phone = incoming.jid_str(found)
        if phone.endswith("@" + incoming.USER_SERVER):
            run.memory.pn_for_lid[lid] = phone


async def _local_ids(run: SessionRun, wa_ids: list[str]) -> dict[str, str]:
    try:
        return await run.shared.store.local_ids(run.session_id, wa_ids)
    except EngineError:
        logger.exception("whatsmeow %s: cannot read message ids", run.session_id)
        return {}


async def _message(run: SessionRun, event: Any) -> None:
    source = event.Info.MessageSource
    run.memory.learn_lids(source)
    await resolve_lids(run, incoming.lids_to_resolve(source))
    mapped = incoming.map_message(run.session_id, event, pn_for_lid=run.memory.pn_for_lid)
    if mapped is None:
        return
    message = mapped.message
    addressed = (incoming.jid_str(source.Chat), incoming.jid_str(source.Sender))
    run.memory.remember_addressing((message.chat, message.sender), addressed)
    if not (message.edited or message.revoked):
        content, _ = incoming.unwrap(event.Message)
        run.memory.remember_quote(message.message_id, incoming.jid_str(source.Sender), content)
    candidates = [message.message_id, message.quoted_message_id]
    if message.reaction is not None:
        candidates.append(message.reaction.target_message_id)
    local = await _local_ids(run, [wa_id for wa_id in candidates if wa_id])
    if local:
        message = _translated(message, local)
    await run.emit(MessageEvent(run.session_id, message))


async def _undecryptable(run: SessionRun, event: Any) -> None:
    source = event.Info.MessageSource
    if incoming.jid_str(source.Chat) == STATUS_BROADCAST:
        return  # someone's status update: not a message to anyone
    run.memory.learn_lids(source)
    await resolve_lids(run, incoming.lids_to_resolve(source))
    pn_for_lid = run.memory.pn_for_lid
    await run.emit(incoming.map_undecryptable(run.session_id, event, pn_for_lid=pn_for_lid))


async def _history(run: SessionRun, event: Any) -> None:
    settings = run.shared.settings
    if settings.whatsmeow_history_sync == "off":
        return
    batch = map_history(
        run.session_id,
        event.Data,
        own_jid=run.identity.jid if run.identity else "",
        since=oldest_wanted(settings.whatsmeow_history_sync, settings.whatsmeow_history_days),
        pn_for_lid=run.memory.pn_for_lid,
    )
    if batch is not None:
        await run.emit(batch)


def _translated(message: IncomingMessage, local: dict[str, str]) -> IncomingMessage:
    """Swap WhatsApp's ids of messages wagate sent for wagate's ids."""
    changes: dict[str, Any] = {}
    if message.edited or message.revoked:
        changes["message_id"] = local.get(message.message_id, message.message_id)
    if message.quoted_message_id:
        changes["quoted_message_id"] = local.get(
            message.quoted_message_id, message.quoted_message_id
        )
    if message.reaction is not None:
        target = message.reaction.target_message_id
        changes["reaction"] = dataclasses.replace(
            message.reaction, target_message_id=local.get(target, target)
        )
    return dataclasses.replace(message, **changes)


async def _receipt(run: SessionRun, event: Any) -> None:
    source = event.MessageSource
    run.memory.learn_lids(source)
    await resolve_lids(run, incoming.lids_to_resolve(source))
    mapped = incoming.map_receipt(run.session_id, event, pn_for_lid=run.memory.pn_for_lid)
    if mapped is None:
        return
    local = await _local_ids(run, list(mapped.message_ids))
    if local:
        ids = tuple(local.get(wa_id, wa_id) for wa_id in mapped.message_ids)
        mapped = dataclasses.replace(mapped, message_ids=ids)
    await run.emit(mapped)


async def _group_info(run: SessionRun, event: Any) -> None:
    own = {jid for jid in (run.identity.jid, run.identity.lid) if jid} if run.identity else set()
    partial, left = incoming.group_change(event, own)
    if left:
        await run.emit(GroupUpdateEvent(run.session_id, partial, left=True))
        return
    group = partial
    client = run.usable_client()
    if client is not None:
        try:
            with engine_errors("read group info"):
                group = incoming.map_group_info(await client.get_group_info(event.JID))
        except EngineError as exc:
            logger.debug("whatsmeow %s: group %s: %s", run.session_id, partial.jid, exc)
    if group.name:
        await run.emit(GroupUpdateEvent(run.session_id, group))
