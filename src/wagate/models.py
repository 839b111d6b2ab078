"""Every table, imported in one place so migrations and tools see them all."""

from wagate.auth.models import ApiKey, User
from wagate.engines.sandbox.owners import SandboxPhoneOwner
from wagate.events.models import OutboxEvent
from wagate.messages.models import Chat, Contact, Message, MessageStatusChange
from wagate.sessions.models import SessionTransition, WhatsAppSession

__all__ = [
    "ApiKey",
    "Chat",
    "Contact",
    "Message",
    "MessageStatusChange",
    "OutboxEvent",
    "SandboxPhoneOwner",
    "SessionTransition",
    "User",
    "WhatsAppSession",
]
