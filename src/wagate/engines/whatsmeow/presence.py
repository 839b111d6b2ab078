"""Marking a connected device available, so WhatsApp counts its receipts as active.

A linked device that never says it is available sends "inactive" delivery
receipts, which phones do not show: senders see one tick instead of two.
whatsmeow refuses to send presence before it knows the account's push name,
which a freshly linked device learns from the phone's app state a few seconds
after connecting; until then the attempt is repeated a few times.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from neonize.utils.enum import Presence as NeonizePresence

from wagate.engines.base import EngineError
from wagate.engines.whatsmeow.errors import engine_errors

if TYPE_CHECKING:
    from wagate.engines.whatsmeow.runtime import SessionRun

logger = logging.getLogger(__name__)

PUSH_NAME_WAITS = (2.0, 5.0, 10.0, 30.0, 60.0)  # seconds between attempts without a push name
NO_PUSH_NAME = "without pushname"  # whatsmeow: "can't send presence without PushName set"


async def mark_online(run: SessionRun, waits: tuple[float, ...] = PUSH_NAME_WAITS) -> bool:
    """Send presence ``available`` while the run stays connected; whether it went out."""
    for wait in (0.0, *waits):
        if wait:
            await asyncio.sleep(wait)
        client = run.usable_client()
        if client is None or not run.connected:
            return False
        try:
            with engine_errors("mark online"):
                await client.send_presence(NeonizePresence.AVAILABLE)
        except EngineError as exc:
            if NO_PUSH_NAME in (exc.detail or "").lower():
                logger.info("whatsmeow %s: no push name yet; presence later", run.session_id)
                continue
            logger.warning("whatsmeow %s: could not mark online: %s", run.session_id, exc)
            return False
        return True
    logger.warning("whatsmeow %s: never learnt its push name; not marked online", run.session_id)
    return False
