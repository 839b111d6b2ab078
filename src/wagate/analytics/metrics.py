"""Prometheus metrics, one registry per app (so several apps in one process, as in
the tests, keep their own numbers).

Counters and histograms move as things happen in this process; the gauges of
sessions by state and of the outbound queue are read from the database at
scrape time, so they are right across processes too.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.messages.models import Message
from wagate.messages.repository import PENDING_STATUSES
from wagate.sessions.models import SessionState, WhatsAppSession

# Engine sends take milliseconds on the sandbox and up to seconds on WhatsApp;
# webhook deliveries up to the delivery timeout.
_SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "wagate_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "wagate_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.messages_sent = Counter(
            "wagate_messages_sent", "Messages the engine accepted", ["type"], registry=r
        )
        self.messages_received = Counter(
            "wagate_messages_received", "Messages received", ["type"], registry=r
        )
        self.messages_failed = Counter(
            "wagate_messages_failed", "Messages that failed for good", ["type"], registry=r
        )
        self.send_duration = Histogram(
            "wagate_send_duration_seconds",
            "Time the engine took to send one message",
            buckets=_SEND_BUCKETS,
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "wagate_webhook_deliveries",
            "Webhook delivery attempts by outcome",
            ["outcome"],
            registry=r,
        )
        self.webhook_duration = Histogram(
            "wagate_webhook_delivery_duration_seconds",
            "Time a webhook delivery attempt took",
            buckets=_WEBHOOK_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "wagate_rate_limited",
            "Requests refused by a rate limit, by limit",
            ["limit"],
            registry=r,
        )
        self.sessions = Gauge(
            "wagate_sessions", "Sessions by state (from the database)", ["state"], registry=r
        )
        self.queue_depth = Gauge(
            "wagate_outbound_queue_depth",
            "Outgoing messages queued or being sent (from the database)",
            registry=r,
        )

    # -- what the rest of the app reports ----------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # ``labels()`` validates and locks on every call, most of this method's
        # cost per request; its children are kept by label set instead (as
        # bounded as the metric: route templates, not paths).
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_send(self, seconds: float) -> None:
        self.send_duration.observe(seconds)

    def message_sent(self, kind: str) -> None:
        self.messages_sent.labels(kind).inc()

    def message_received(self, kind: str) -> None:
        self.messages_received.labels(kind).inc()

    def message_failed(self, kind: str) -> None:
        self.messages_failed.labels(kind).inc()

    def observe_webhook_delivery(self, outcome: str, seconds: float) -> None:
        """One delivery attempt: ``outcome`` is a short fixed word (``success``,
        ``failure``, ``timeout``…), never a URL or a status text."""
        self.webhook_deliveries.labels(outcome).inc()
        self.webhook_duration.observe(seconds)

    def rate_limit_refused(self, limit: str) -> None:
        self.rate_limited.labels(limit).inc()

    # -- scraping -------------------------------------------------------------

    async def render(self, db: AsyncSession) -> bytes:
        """The text exposition, with the database gauges read now."""
        by_state = dict(
            (
                await db.execute(
                    select(WhatsAppSession.state, func.count()).group_by(WhatsAppSession.state)
                )
            ).all()
        )
        for state in SessionState:
            self.sessions.labels(state.value).set(by_state.get(state.value, 0))
        self.queue_depth.set(await queue_depth(db))
        return generate_latest(self.registry)


async def queue_depth(db: AsyncSession) -> int:
    """Queued and sending messages, counted per session so each count is a range
    of the (session_id, status, seq) index instead of a scan of all messages."""
    per_session = (
        select(func.count())
        .select_from(Message)
        .where(Message.session_id == WhatsAppSession.id, Message.status.in_(PENDING_STATUSES))
        .correlate(WhatsAppSession)
        .scalar_subquery()
    )
    total = await db.scalar(
        select(func.coalesce(func.sum(per_session), 0)).select_from(WhatsAppSession)
    )
    return int(total or 0)
