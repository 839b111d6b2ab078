"""A campaign's user-level events: ``campaign.progress`` and ``campaign.completed``.

They belong to the campaign's user, not to one session (``session_id`` None in
the outbox), so user-level webhooks and the user's stream (``/api/v1/events``)
carry them. The runner records them (``campaigns/runner.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.campaigns.models import Campaign
from wagate.campaigns.service import Progress
from wagate.events.service import record_event

PROGRESS = "campaign.progress"
COMPLETED = "campaign.completed"


def stats_of(progress: Progress) -> dict[str, Any]:
    """The counts and rates, as the campaign API's ``stats`` shows them."""
    return {
        "total": progress.total,
        "pending": progress.pending,
        "queued": progress.queued,
        "sent": progress.sent,
        "delivered": progress.delivered,
        "read": progress.read,
        "failed": progress.failed,
        "skipped": progress.skipped,
        "replied": progress.replied,
        "deliveryRate": progress.delivery_rate,
        "readRate": progress.read_rate,
    }


async def record(db: AsyncSession, event_type: str, campaign: Campaign, progress: Progress) -> None:
    await record_event(
        db,
        user_id=campaign.user_id,
        session_id=None,
        event_type=event_type,
        data={
            "campaignId": str(campaign.id),
            "name": campaign.name,
            "state": campaign.state,
            "stats": stats_of(progress),
        },
    )
