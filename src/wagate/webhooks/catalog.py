"""The events a webhook can subscribe to, and which events reach which webhook."""

from __future__ import annotations

from collections.abc import Iterable

ALL_EVENTS = "*"

SUBSCRIBABLE = (
    "message.received",
    "message.status",
    "message.undecryptable",
    "history.synced",
    "session.status",
    "session.connected",
    "session.disconnected",
    "session.qr",
    "session.pairing_code",
    "webhook.disabled",
    "campaign.progress",
    "campaign.completed",
)
# Events of a user, not of one session (no ``sessionId``): only user-level
# webhooks (registered without a session) and the user's stream get them.
USER_EVENTS = ("campaign.progress", "campaign.completed")
# The SAK reference's shorthands.
ALIASES = {"message": "message.received", "session": "session.status"}

TEST_EVENT = "webhook.test"
DISABLED_EVENT = "webhook.disabled"  # one of the session's (or user's) webhooks was turned off
CAMPAIGN_PROGRESS = "campaign.progress"
CAMPAIGN_COMPLETED = "campaign.completed"


class UnknownEventError(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def normalize_events(names: Iterable[str]) -> list[str]:
    """Resolve aliases, drop repeats (keeping order), refuse unknown names."""
    resolved: list[str] = []
    unknown: list[str] = []
    for raw in names:
        name = ALIASES.get(raw.strip(), raw.strip())
        if name != ALL_EVENTS and name not in SUBSCRIBABLE:
            unknown.append(raw)
        elif name not in resolved:
            resolved.append(name)
    if unknown:
        raise UnknownEventError(unknown)
    return resolved


def user_level(names: Iterable[str]) -> list[str]:
    """The user-level event names among ``names`` (a session's webhook never gets them)."""
    return [name for name in names if name in USER_EVENTS]


def wants(subscribed: Iterable[str], event_type: str) -> bool:
    """Whether a webhook subscribed to ``subscribed`` receives ``event_type``.

    ``*`` takes every event of the session, ``webhook.disabled`` included; a
    test event is addressed to one webhook and never goes by subscription.
    """
    if event_type == TEST_EVENT:
        return False
    subscribed = list(subscribed)
    return ALL_EVENTS in subscribed or event_type in subscribed
