"""Every table, imported in one place so migrations and tools see them all."""

from wagate.analytics.models import ActivityLog, UsageCounter
from wagate.auth.models import ApiKey, User
from wagate.campaigns.models import (
    BroadcastContact,
    Campaign,
    CampaignRecipient,
    MessageTemplate,
)
from wagate.events.models import OutboxEvent
from wagate.messages.models import Chat, Contact, Message, MessageStatusChange
from wagate.sandbox_api.models import SandboxPhoneOwner
from wagate.sessions.models import SessionTransition, WhatsAppSession
from wagate.webhooks.models import RelayCursor, Webhook, WebhookAttempt, WebhookDelivery

__all__ = [
    "ActivityLog",
    "ApiKey",
    "BroadcastContact",
    "Campaign",
    "CampaignRecipient",
    "Chat",
    "Contact",
    "Message",
    "MessageStatusChange",
    "MessageTemplate",
    "OutboxEvent",
    "RelayCursor",
    "SandboxPhoneOwner",
    "SessionTransition",
    "UsageCounter",
    "User",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WhatsAppSession",
]
