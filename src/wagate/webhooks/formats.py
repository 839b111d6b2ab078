"""Webhook body formats: which events a webhook of a format receives, the body
each is sent as, and whether it is signed.

* ``sak`` (the default): every subscribed event, as the outbox payload, signed
  (SAK and Standard Webhooks headers);
* ``multisession``: incoming messages only, as the multi-session guide's
  ``{session_id, message{id, from, to, message, timestamp}}``, unsigned (the
  guide shows no signature and its receivers check none).

A body is rendered when the relay turns an event into a delivery, so every
attempt sends the same bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from wagate.webhooks import catalog


class WebhookFormat(enum.StrEnum):
    SAK = "sak"
    MULTISESSION = "multisession"


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a body may say of the session an event belongs to."""

    jid: str | None


@dataclass(frozen=True, slots=True)
class Format:
    signed: bool
    wants: Callable[[Iterable[str], str], bool]  # (subscribed events, event type)
    render: Callable[[dict[str, Any], SessionFacts], dict[str, Any]]


def _as_is(payload: dict[str, Any], _: SessionFacts) -> dict[str, Any]:
    return payload


def _multisession_wants(_: Iterable[str], event_type: str) -> bool:
    return event_type == "message.received"


def _multisession_message(payload: dict[str, Any], session: SessionFacts) -> dict[str, Any]:
    is_group = bool(payload.get("isGroup"))
    text = payload.get("text")
    return {
        "session_id": payload.get("sessionId"),
        "message": {
            "id": payload.get("messageId"),
            "from": payload.get("sender") or payload.get("from"),
            # A group message is addressed to the group; any other to this session's number.
            "to": payload.get("chat") if is_group else session.jid,
            "message": text if isinstance(text, str) else "",
            "timestamp": payload.get("timestamp"),
        },
    }


FORMATS: dict[WebhookFormat, Format] = {
    WebhookFormat.SAK: Format(signed=True, wants=catalog.wants, render=_as_is),
    WebhookFormat.MULTISESSION: Format(
        signed=False, wants=_multisession_wants, render=_multisession_message
    ),
}


def format_of(name: str) -> Format:
    return FORMATS[WebhookFormat(name)]
