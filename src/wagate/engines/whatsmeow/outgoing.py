"""Building WhatsApp's protobuf messages from wagate's :class:`OutgoingMessage`.

The functions here are pure: media is uploaded first (by the session runtime),
and its :class:`Uploaded` receipt, the quoted message and the reaction target
(already translated to WhatsApp's ids) come in as arguments. Nothing here
needs ffmpeg: thumbnails of images come from Pillow, durations of Ogg/Opus
voice notes and MP4 videos are read from their headers, and a video goes out
without a thumbnail (WhatsApp shows a placeholder until it is downloaded).
"""

from __future__ import annotations

import io
import struct
import time
from dataclasses import dataclass
from typing import Any

from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LocationMessage,
    Message,
    ReactionMessage,
    StickerMessage,
    VideoMessage,
)

from wagate.engines.base import OutgoingMessage, UnsupportedError

THUMBNAIL_SIZE = 96
VOICE_NOTE_MIMETYPE = "audio/ogg; codecs=opus"

# neonize.utils.enum.MediaType member names, by our message kind.
UPLOAD_MEDIA_TYPE: dict[str, str] = {
    "image": "MediaImage",
    "sticker": "MediaImage",
    "video": "MediaVideo",
    "audio": "MediaAudio",
    "document": "MediaDocument",
}


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What WhatsApp's media server answered for an upload (neonize's UploadResponse)."""

    url: str
    direct_path: str
    media_key: bytes
    file_enc_sha256: bytes
    file_sha256: bytes
    file_length: int

    @classmethod
    def from_response(cls, response: Any) -> Uploaded:
        return cls(
            url=response.url,
            direct_path=response.DirectPath,
            media_key=response.MediaKey,
            file_enc_sha256=response.FileEncSHA256,
            file_sha256=response.FileSHA256,
            file_length=response.FileLength,
        )


@dataclass(frozen=True, slots=True)
class Quote:
    """The message a reply quotes, by its WhatsApp id."""

    message_id: str
    participant: str | None = None  # who wrote it (required by WhatsApp in groups)
    message: Any = None  # its waE2E.Message when known, so phones can render the quote


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What the runtime learnt about the bytes before sending (all optional)."""

    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None
    seconds: int | None = None


def _context(quote: Quote | None) -> ContextInfo | None:
    if quote is None:
        return None
    context = ContextInfo(stanzaID=quote.message_id)
    if quote.participant:
        context.participant = quote.participant
    if quote.message is not None:
        context.quotedMessage.CopyFrom(quote.message)
    return context


def _media_fields(upload: Uploaded, mimetype: str) -> dict[str, Any]:
    return {
        "URL": upload.url,
        "directPath": upload.direct_path,
        "mediaKey": upload.media_key,
        "fileEncSHA256": upload.file_enc_sha256,
        "fileSHA256": upload.file_sha256,
        "fileLength": upload.file_length,
        "mimetype": mimetype,
        "mediaKeyTimestamp": int(time.time()),
    }


def build_message(
    message: OutgoingMessage,
    *,
    upload: Uploaded | None = None,
    quote: Quote | None = None,
    facts: MediaFacts | None = None,
    reaction_target_id: str | None = None,
) -> Any:
    """The waE2E.Message to send for ``message``.

    ``reaction_target_id`` is the WhatsApp id of the message reacted to, when it
    differs from the id the core knows.
    """
    facts = facts or MediaFacts()
    context = _context(quote)
    kind = message.kind
    if kind == "text":
        body = message.text or ""
        if context is None:
            return Message(conversation=body)
        return Message(extendedTextMessage=ExtendedTextMessage(text=body, contextInfo=context))
    if kind == "location":
        if message.location is None:
            raise UnsupportedError("a location message needs a location")
        location = LocationMessage(
            degreesLatitude=message.location.latitude,
            degreesLongitude=message.location.longitude,
        )
        if message.location.name:
            location.name = message.location.name
        if message.location.address:
            location.address = message.location.address
        if context is not None:
            location.contextInfo.CopyFrom(context)
        return Message(locationMessage=location)
    if kind == "contact":
        if message.contact is None:
            raise UnsupportedError("a contact message needs a contact card")
        contact = ContactMessage(
            displayName=message.contact.display_name, vcard=message.contact.vcard
        )
        if context is not None:
            contact.contextInfo.CopyFrom(context)
        return Message(contactMessage=contact)
    if kind == "reaction":
        return Message(reactionMessage=_reaction(message, reaction_target_id))
    if upload is None or message.media is None:
        raise UnsupportedError(f"a {kind} message needs uploaded media")
    return _media_message(message, upload, context, facts)


def _reaction(message: OutgoingMessage, target_id: str | None) -> ReactionMessage:
    reaction = message.reaction
    if reaction is None:
        raise UnsupportedError("a reaction message needs a reaction")
    key = MessageKey(
        remoteJID=message.to,
        fromMe=reaction.target_from_me,
        ID=target_id or reaction.target_message_id,
    )
    if message.to.endswith("@g.us") and not reaction.target_from_me and reaction.target_sender:
        key.participant = reaction.target_sender
    return ReactionMessage(key=key, text=reaction.emoji, senderTimestampMS=int(time.time() * 1000))


def _media_message(
    message: OutgoingMessage, upload: Uploaded, context: ContextInfo | None, facts: MediaFacts
) -> Any:
    assert message.media is not None
    media = message.media
    caption = message.text
    kind = message.kind
    if kind == "image":
        image = ImageMessage(**_media_fields(upload, media.mimetype))
        if caption:
            image.caption = caption
        if facts.thumbnail:
            image.JPEGThumbnail = facts.thumbnail
        if facts.width and facts.height:
            image.width, image.height = facts.width, facts.height
        if context is not None:
            image.contextInfo.CopyFrom(context)
        return Message(imageMessage=image)
    if kind == "video":
        video = VideoMessage(**_media_fields(upload, media.mimetype))
        if caption:
            video.caption = caption
        if facts.seconds is not None:
            video.seconds = facts.seconds
        if context is not None:
            video.contextInfo.CopyFrom(context)
        return Message(videoMessage=video)
    if kind == "audio":
        mimetype = media.mimetype
        if message.voice_note and mimetype.split(";")[0].strip() == "audio/ogg":
            mimetype = VOICE_NOTE_MIMETYPE
        audio = AudioMessage(**_media_fields(upload, mimetype), PTT=message.voice_note)
        if facts.seconds is not None:
            audio.seconds = facts.seconds
        if context is not None:
            audio.contextInfo.CopyFrom(context)
        return Message(audioMessage=audio)
    if kind == "document":
        document = DocumentMessage(**_media_fields(upload, media.mimetype))
        filename = media.filename or "file"
        document.fileName = filename
        document.title = filename
        if context is not None:
            document.contextInfo.CopyFrom(context)
        if caption:
            document.caption = caption
            inner = Message(documentMessage=document)
            return Message(documentWithCaptionMessage=FutureProofMessage(message=inner))
        return Message(documentMessage=document)
    if kind == "sticker":
        sticker = StickerMessage(**_media_fields(upload, media.mimetype or "image/webp"))
        if facts.width and facts.height:
            sticker.width, sticker.height = facts.width, facts.height
        if context is not None:
            sticker.contextInfo.CopyFrom(context)
        return Message(stickerMessage=sticker)
    raise UnsupportedError(f"cannot send a {kind} message")


# ---------------------------------------------------------------------------
# Facts about media bytes, without ffmpeg
# ---------------------------------------------------------------------------


def image_facts(data: bytes) -> MediaFacts:
    """A small JPEG thumbnail and the size of an image (Pillow); empty facts if unreadable."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            image.draft("RGB", (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2))
            rgb = image.convert("RGB")
            rgb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            buffer = io.BytesIO()
            rgb.save(buffer, format="JPEG", quality=60)
    except Exception:  # Pillow raises many types (and DecompressionBombError) on bad input
        return MediaFacts()
    return MediaFacts(thumbnail=buffer.getvalue(), width=width, height=height)


def ogg_opus_seconds(data: bytes) -> int | None:
    """Duration of an Ogg/Opus file from its last page's granule position (48 kHz)."""
    if not data.startswith(b"OggS"):
        return None
    head = data.find(b"OpusHead")
    last = data.rfind(b"OggS")
    if head < 0 or last < 0 or len(data) < last + 14 or len(data) < head + 12:
        return None
    granule: int = struct.unpack_from("<q", data, last + 6)[0]
    pre_skip: int = struct.unpack_from("<H", data, head + 10)[0]
    if granule <= 0:
        return None
    return max(0, round((granule - pre_skip) / 48000))


def mp4_seconds(data: bytes) -> int | None:
    """Duration of an MP4/MOV file from its ``mvhd`` box."""
    at = data.find(b"mvhd")
    version = data[at + 4] if 0 <= at < len(data) - 4 else -1
    end = at + (36 if version == 1 else 24)
    if at < 0 or len(data) < end:
        return None
    timescale: int
    duration: int
    if version == 1:
        timescale, duration = struct.unpack_from(">IQ", data, at + 24)
    else:
        timescale, duration = struct.unpack_from(">II", data, at + 16)
    if timescale <= 0 or duration <= 0 or duration // timescale > 24 * 3600:
        return None
    return round(duration / timescale)


def media_facts(message: OutgoingMessage) -> MediaFacts:
    """Everything worth knowing about the media of ``message`` (CPU work: run off the loop)."""
    if message.media is None:
        return MediaFacts()
    data = message.media.data
    if message.kind in ("image", "sticker"):
        return image_facts(data)
    if message.kind == "audio":
        return MediaFacts(seconds=ogg_opus_seconds(data))
    if message.kind == "video":
        return MediaFacts(seconds=mp4_seconds(data))
    return MediaFacts()
