"""Turning a media request (multipart upload, base64, or a URL) into stored media.

Every way in ends in the media store with a size limit per kind, and the type
is sniffed from the bytes: an ``image`` that holds no image is refused.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from wagate.config import Settings
from wagate.errors import AppError, ErrorCode
from wagate.messages.media import MediaStore, MediaTooLargeError, StoredMedia, read_chunks
from wagate.messages.service import MediaRef
from wagate.net.fetch import FetchError, GuardedClients, fetch_media
from wagate.net.fetch import MediaTooLargeError as RemoteTooLargeError
from wagate.net.policy import url_reach_of
from wagate.net.ssrf import Reach

# What the bytes of each kind must sniff as; documents may be anything.
_EXPECTED_PREFIX = {
    "image": ("image/",),
    "video": ("video/",),
    "audio": ("audio/", "video/mp4", "video/webm", "application/ogg"),
    "sticker": ("image/webp",),
}


@dataclass(frozen=True, slots=True)
class MediaInput:
    stored: StoredMedia
    declared_mimetype: str | None
    filename: str | None


def too_large(kind: str, limit: int, *, base64: bool = False) -> AppError:
    message = f"{kind} is larger than the limit of {limit / (1024 * 1024):.4g} MB"
    if base64:
        message += " for base64 in JSON; send larger files as multipart/form-data or by mediaUrl"
    return AppError(ErrorCode.PAYLOAD_TOO_LARGE, message)


async def from_upload(
    store: MediaStore, upload: UploadFile, *, kind: str, settings: Settings
) -> MediaInput:
    limit = settings.max_media_bytes(kind)
    try:
        stored = await store.save_stream(read_chunks(upload), max_bytes=limit)
    except MediaTooLargeError as exc:
        raise too_large(kind, limit) from exc
    return MediaInput(stored, upload.content_type, upload.filename)


async def from_base64(
    store: MediaStore,
    encoded: str,
    *,
    kind: str,
    mimetype: str | None,
    filename: str | None,
    settings: Settings,
) -> MediaInput:
    limit = min(settings.max_media_bytes(kind), settings.max_base64_bytes)
    if len(encoded) * 3 // 4 > limit + 3:
        raise too_large(kind, limit, base64=True)
    if encoded.startswith("data:") and "," in encoded:
        header, encoded = encoded.split(",", 1)
        mimetype = mimetype or header[5:].split(";", 1)[0] or None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, "media: is not valid base64") from exc
    if len(data) > limit:
        raise too_large(kind, limit, base64=True)
    return MediaInput(await store.save_bytes(data), mimetype, filename)


async def from_url(
    store: MediaStore,
    clients: GuardedClients,
    url: str,
    *,
    kind: str,
    filename: str | None,
    settings: Settings,
    reach: Reach,
) -> MediaInput:
    limit = settings.max_media_bytes(kind)
    try:
        fetched = await fetch_media(
            clients[reach],
            url,
            max_bytes=limit,
            timeout=settings.media_fetch_timeout,
            reach=reach,
        )
    except RemoteTooLargeError as exc:
        raise too_large(kind, limit) from exc
    except FetchError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"mediaUrl: {exc}") from exc
    content_type = (fetched.content_type or "").split(";", 1)[0].strip() or None
    return MediaInput(
        await store.save_bytes(fetched.data), content_type, filename or fetched.filename
    )


async def media_from_url(
    db: AsyncSession,
    store: MediaStore,
    clients: GuardedClients,
    owner_id: uuid.UUID,
    url: str,
    *,
    kind: str,
    filename: str | None,
    settings: Settings,
) -> MediaRef:
    """A ``mediaUrl`` fetched as far as the session's owner may reach, then checked
    as an upload is; the file is named ``filename`` (None leaves it unnamed)."""
    fetched = await from_url(
        store,
        clients,
        url,
        kind=kind,
        filename=filename,
        settings=settings,
        reach=await url_reach_of(db, settings, owner_id),
    )
    return checked_media(MediaInput(fetched.stored, fetched.declared_mimetype, filename), kind=kind)


def checked_media(media: MediaInput, *, kind: str) -> MediaRef:
    """The type from the bytes wins; a kind whose bytes are something else is 415."""
    sniffed = media.stored.sniffed_mimetype
    expected = _EXPECTED_PREFIX.get(kind)
    if expected is not None and not (sniffed and sniffed.startswith(expected)):
        raise AppError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"{kind}: the file is {sniffed or 'of an unknown type'}, not a supported {kind}",
        )
    if kind == "document":
        # The reference passes the uploaded mimetype through for documents.
        mimetype = media.declared_mimetype or sniffed or _guess(media.filename)
    else:
        mimetype = sniffed or media.declared_mimetype or "application/octet-stream"
    return MediaRef(
        sha256=media.stored.sha256,
        size=media.stored.size,
        mimetype=mimetype or "application/octet-stream",
        filename=media.filename,
    )


def _guess(filename: str | None) -> str | None:
    if not filename:
        return None
    guessed, _ = mimetypes.guess_type(filename)
    return guessed
