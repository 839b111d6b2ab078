"""One signed HTTP attempt of one delivery, and what it came to."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from wagate.net.fetch import GuardedClients
from wagate.net.ssrf import Reach, UnsafeURLError
from wagate.storage.base import utcnow
from wagate.webhooks.crypto import SecretUnreadableError, decrypt_secret
from wagate.webhooks.formats import format_of
from wagate.webhooks.models import Webhook
from wagate.webhooks.outcomes import Endpoint, Outcome
from wagate.webhooks.repository import ClaimedRow
from wagate.webhooks.retry import RETRY_AFTER_STATUSES, parse_retry_after
from wagate.webhooks.signing import PayloadEncodingError, build_headers, encode_body

# Enough of a receiver's answer to show in the deliveries log; the rest is
# not read (and the connection is then not reused).
_MAX_ANSWER_BYTES = 64 * 1024
_ANSWER_SNIPPET = 200
# Decrypted secrets kept per encrypted form (a rotation changes that form, so
# a stale entry is never used); cleared when it grows past this many webhooks.
_SECRETS_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Target:
    """A claimed delivery and where it goes, read in the claim's transaction."""

    row: ClaimedRow
    url: str
    secret_encrypted: str
    send_secret_header: bool
    reach: Reach  # how far its owner's URLs may reach
    signed: bool = True

    @classmethod
    def of(cls, row: ClaimedRow, webhook: Webhook | Endpoint, reach: Reach) -> Target:
        signed = format_of(webhook.format).signed
        return cls(
            row, webhook.url, webhook.secret_encrypted, webhook.send_secret_header, reach, signed
        )


class WebhookSender:
    def __init__(self, clients: GuardedClients, *, timeout: float, instance_secret: str) -> None:
        # The clients do not follow redirects: a 3xx is a failed delivery.
        self.clients = clients
        self.timeout = timeout
        self.instance_secret = instance_secret
        self._secrets: dict[str, str] = {}

    async def send(self, target: Target) -> Outcome:
        row = target.row
        started_at = utcnow()
        clock = time.monotonic()

        def outcome(**fields: Any) -> Outcome:
            duration_ms = round((time.monotonic() - clock) * 1000)
            return Outcome(started_at=started_at, duration_ms=duration_ms, **fields)

        try:
            body = encode_body(row.payload)
        except PayloadEncodingError as exc:
            return outcome(error=f"the event cannot be sent as JSON: {exc}", permanent=True)
        try:
            headers = self._headers(target, body)
        except (SecretUnreadableError, ValueError) as exc:
            # Rotating the secret fixes this, so the delivery is retried.
            return outcome(error=f"cannot sign: {exc}")
        try:
            # One deadline for the whole attempt: connect, send, answer.
            async with asyncio.timeout(self.timeout):
                client = self.clients[target.reach]
                code, error, retry_after = await self._post(client, target.url, body, headers)
        except TimeoutError:
            return outcome(error=f"timed out after {self.timeout:g}s")
        except UnsafeURLError as exc:
            return outcome(
                error=f"refused by the outbound request policy: {exc.reason}", refused=True
            )
        except httpx.HTTPError as exc:
            return outcome(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return outcome(status_code=code, error=error, retry_after=retry_after)

    def _headers(self, target: Target, body: bytes) -> dict[str, str]:
        row = target.row
        if not target.signed:
            # A format its seed shows unsigned; webhook-id still lets receivers de-duplicate.
            return {"Content-Type": "application/json", "webhook-id": str(row.event_id)}
        secret = self._secret(target.secret_encrypted)
        return build_headers(
            row.event_type,
            str(row.event_id),  # webhook-id: the same on every attempt
            int(time.time()),
            body,
            secret,
            include_secret_header=target.send_secret_header,
        )

    def _secret(self, encrypted: str) -> str:
        """The webhook's secret, decrypted once rather than on every attempt."""
        secret = self._secrets.get(encrypted)
        if secret is None:
            secret = decrypt_secret(encrypted, self.instance_secret)
            if len(self._secrets) >= _SECRETS_KEPT:
                self._secrets.clear()
            self._secrets[encrypted] = secret
        return secret

    @staticmethod
    async def _post(
        client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, float | None]:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            answer = bytearray()
            async for chunk in response.aiter_bytes():
                answer += chunk
                if len(answer) > _MAX_ANSWER_BYTES:
                    break
        code = response.status_code
        if 200 <= code < 300:
            return code, None, None
        if 300 <= code < 400:
            location = response.headers.get("location", "(no Location)")
            error = f"HTTP {code}: redirect to {location} not followed"
        else:
            snippet = bytes(answer[:_ANSWER_SNIPPET]).decode("utf-8", "replace").strip()
            error = f"HTTP {code}" + (f": {snippet}" if snippet else "")
        retry_after = None
        if code in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("retry-after"), utcnow())
        return code, error, retry_after
