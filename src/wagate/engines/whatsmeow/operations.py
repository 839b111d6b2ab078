"""What the core asks of a running session: send, check numbers, groups, receipts...

Each function takes a :class:`SessionRun` whose client is usable and wraps its
neonize calls in :func:`engine_errors`, so only engine errors come out.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from neonize.utils.enum import (
    ChatPresence,
    ChatPresenceMedia,
    ClientName,
    ClientType,
    MediaType,
    ReceiptType,
)
from neonize.utils.enum import Presence as NeonizePresence

from wagate.engines.base import (
    MEDIA_KINDS,
    EngineError,
    GroupInfo,
    IncomingMedia,
    InvalidRecipientError,
    MediaError,
    NotConnectedError,
    NumberCheck,
    OutgoingMessage,
    Presence,
    SendReceipt,
)
from wagate.engines.whatsmeow import incoming
from wagate.engines.whatsmeow.client import SessionClient, parse_jid
from wagate.engines.whatsmeow.errors import EmptyAnswerError, engine_errors
from wagate.engines.whatsmeow.outgoing import (
    UPLOAD_MEDIA_TYPE,
    Quote,
    Uploaded,
    build_message,
    media_facts,
)
from wagate.engines.whatsmeow.runtime import Phase, SessionRun
from wagate.jid import InvalidJidError, is_group, normalize_number, to_jid

logger = logging.getLogger(__name__)

CHECK_BATCH = 50


def _client(run: SessionRun) -> SessionClient:
    client = run.usable_client()
    if client is None or not run.connected:
        raise NotConnectedError("the session is not connected to WhatsApp")
    return client


def _jid(value: str) -> str:
    try:
        return to_jid(value)
    except InvalidJidError as exc:
        raise InvalidRecipientError(f"{value!r}: {exc}") from exc


async def send(run: SessionRun, message: OutgoingMessage) -> SendReceipt:
    client = _client(run)
    to = _jid(message.to)
    store = run.shared.store
    asked = [message.quoted_message_id]
    if message.reaction is not None:
        asked.append(message.reaction.target_message_id)
    ours = await store.wa_ids(run.session_id, [i for i in asked if i])
    own_jid = run.identity.jid if run.identity else None
    quote = None
    if message.quoted_message_id:
        wa_id = ours.get(message.quoted_message_id, message.quoted_message_id)
        participant, quoted = run.memory.quotes.get(wa_id, (None, None))
        if participant is None:
            participant = own_jid if message.quoted_message_id in ours else None
            if participant is None and not is_group(to):
                participant = to
        quote = Quote(message_id=wa_id, participant=participant, message=quoted)
    target = None
    if message.reaction is not None:
        target = ours.get(message.reaction.target_message_id)
    upload = facts = None
    if message.kind in MEDIA_KINDS:
        if message.media is None:
            raise MediaError(f"a {message.kind} message needs media")
        loop = asyncio.get_running_loop()
        facts = await loop.run_in_executor(run.shared.executor, media_facts, message)
        with engine_errors("upload media"):
            media_type = MediaType[UPLOAD_MEDIA_TYPE[message.kind]]
            upload = Uploaded.from_response(await client.upload(message.media.data, media_type))
    proto = build_message(
        message, upload=upload, quote=quote, facts=facts, reaction_target_id=target
    )
    with engine_errors("send message"):
        response = await client.send_message(parse_jid(to), proto)
    wa_id, receipt = sent(response, message.message_id)
    try:
        await store.remember_id(run.session_id, message.message_id, wa_id)
    except EngineError:
        logger.exception("whatsmeow %s: sent %s but cannot record its id", run.session_id, wa_id)
    if own_jid:
        run.memory.remember_quote(wa_id, own_jid, proto)
    return receipt


def sent(response: Any, message_id: str) -> tuple[str, SendReceipt]:
    """WhatsApp's id of a sent message, and the receipt under wagate's id, from neonize's
    ``SendResponse``."""
    wa_id = str(response.ID) or message_id
    sent_at = datetime.fromtimestamp(response.Timestamp, UTC) if response.Timestamp else None
    return wa_id, SendReceipt(message_id=message_id, timestamp=sent_at or datetime.now(UTC))


async def check_numbers(run: SessionRun, numbers: list[str]) -> list[NumberCheck]:
    client = _client(run)
    digits: dict[str, str] = {}
    for number in numbers:
        try:
            digits[number] = normalize_number(number)
        except InvalidJidError:
            continue
    wanted = sorted(set(digits.values()))
    found: dict[str, str | None] = {}
    verified: dict[str, str] = {}
    for start in range(0, len(wanted), CHECK_BATCH):
        batch = wanted[start : start + CHECK_BATCH]
        try:
            with engine_errors("check numbers"):
                answers = await client.is_on_whatsapp(*(f"+{d}" for d in batch))
        except EmptyAnswerError:
            answers = []
        found.update(accounts(answers))
        verified.update(verified_names(answers))
    return [
        NumberCheck(
            number=number,
            jid=found.get(digits.get(number, "")),
            on_whatsapp=found.get(digits.get(number, "")) is not None,
            verified_name=verified.get(digits.get(number, "")),
        )
        for number in numbers
    ]


def accounts(answers: Any) -> dict[str, str | None]:
    """Digits -> phone JID (None when not on WhatsApp), from neonize's IsOnWhatsAppResponses."""
    found: dict[str, str | None] = {}
    for answer in answers:
        query = "".join(ch for ch in answer.Query if ch.isdigit())
        jid = incoming.jid_str(answer.JID)
        if query and not jid.endswith("@" + incoming.USER_SERVER):
            jid = f"{query}@{incoming.USER_SERVER}"  # whatsmeow may answer with a hidden id
        key = query or jid.split("@", 1)[0]
        found[key] = jid if answer.IsIn else None
    return found


def verified_names(answers: Any) -> dict[str, str]:
    """Digits -> the business's verified name, for the accounts that have one."""
    names: dict[str, str] = {}
    for answer in answers:
        name = answer.VerifiedName.Details.verifiedName
        query = "".join(ch for ch in answer.Query if ch.isdigit())
        if answer.IsIn and name and query:
            names[query] = name
    return names


async def list_groups(run: SessionRun) -> list[GroupInfo]:
    client = _client(run)
    with engine_errors("list groups"):
        groups = await client.get_joined_groups()
    return [incoming.map_group_info(group) for group in groups]


async def get_group(run: SessionRun, jid: str) -> GroupInfo:
    client = _client(run)
    group_jid = _jid(jid)
    if not is_group(group_jid):
        raise InvalidRecipientError(f"{jid!r} is not a group JID")
    with engine_errors("read group info"):
        group = await client.get_group_info(parse_jid(group_jid))
    return incoming.map_group_info(group)


async def mark_read(run: SessionRun, chat: str, message_ids: list[str], sender: str | None) -> None:
    if not message_ids:
        return
    client = _client(run)
    chat_jid = _jid(chat)
    sender_jid = _jid(sender) if sender else chat_jid
    # a chat WhatsApp addresses by hidden id wants its receipts there, not to the number
    chat_jid, sender_jid = run.memory.receipt_parties(chat_jid, sender_jid)
    with engine_errors("mark read"):
        await client.mark_read(
            *message_ids,
            chat=parse_jid(chat_jid),
            sender=parse_jid(sender_jid),
            receipt=ReceiptType.READ,
        )


async def send_presence(run: SessionRun, chat: str, presence: Presence) -> None:
    client = _client(run)
    with engine_errors("send presence"):
        if presence == "available":
            await client.send_presence(NeonizePresence.AVAILABLE)
            return
        if presence == "unavailable":
            await client.send_presence(NeonizePresence.UNAVAILABLE)
            return
        state = (
            ChatPresence.CHAT_PRESENCE_PAUSED
            if presence == "paused"
            else ChatPresence.CHAT_PRESENCE_COMPOSING
        )
        media = (
            ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO
            if presence == "recording"
            else ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
        )
        await client.send_chat_presence(parse_jid(_jid(chat)), state, media)


async def download_media(run: SessionRun, media: IncomingMedia) -> bytes:
    message = incoming.message_from_reference(media.reference)
    if message is None:
        raise MediaError("this media reference was not made by the whatsmeow engine")
    client = _client(run)
    with engine_errors("download media"):
        data: bytes = await client.download_any(message)
    return data


async def pair_phone(run: SessionRun, digits: str, wait_seconds: float) -> str:
    """A pairing code for ``digits``, once the run's link attempt is under way."""
    ready = asyncio.ensure_future(run.pairing_ready.wait())
    ended = asyncio.ensure_future(run.ended.wait())
    try:
        await asyncio.wait({ready, ended}, timeout=wait_seconds, return_when="FIRST_COMPLETED")
    finally:
        ready.cancel()
        ended.cancel()
    if run.phase is not Phase.PAIRING or run.closing or run.client is None:
        raise NotConnectedError("WhatsApp did not start a link attempt; try again")
    with engine_errors("request a pairing code"):
        code: str = await run.client.PairPhone(digits, True, ClientName.LINUX, ClientType.CHROME)
    return code


async def logout_online(run: SessionRun) -> None:
    """Tell WhatsApp to remove the linked device, when the session is connected."""
    client = run.usable_client()
    if client is None or not run.connected:
        return
    try:
        with engine_errors("log out"):
            await client.logout()
    except EngineError as exc:
        logger.warning("whatsmeow %s: logout on WhatsApp failed: %s", run.session_id, exc)
