"""Outbound requests to URLs that users give us (webhooks, media by URL)."""

from wagate.net.fetch import (
    BadResponseError,
    BlockedURLError,
    FetchConnectionError,
    FetchedMedia,
    FetchError,
    FetchStatusError,
    FetchTimeoutError,
    GuardedClients,
    MediaTooLargeError,
    TooManyRedirectsError,
    create_guarded_client,
    fetch_media,
)
from wagate.net.ssrf import (
    AddressPolicy,
    GuardedTransport,
    Reach,
    UnresolvableHostError,
    UnsafeURLError,
    check_url,
    is_public_address,
)

__all__ = [
    "AddressPolicy",
    "BadResponseError",
    "BlockedURLError",
    "FetchConnectionError",
    "FetchError",
    "FetchStatusError",
    "FetchTimeoutError",
    "FetchedMedia",
    "GuardedClients",
    "GuardedTransport",
    "MediaTooLargeError",
    "Reach",
    "TooManyRedirectsError",
    "UnresolvableHostError",
    "UnsafeURLError",
    "check_url",
    "create_guarded_client",
    "fetch_media",
    "is_public_address",
]
