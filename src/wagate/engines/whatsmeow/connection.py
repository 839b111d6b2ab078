"""whatsmeow's connection and linking events -> wagate's session events.

``will_retry`` says whether whatsmeow reconnects by itself: it does after an
established connection drops (``Disconnected``, keep-alive timeouts, 5xx
connect failures) once the device is linked, and never after the first
connect attempt fails, a stream is replaced, a ban or a logout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neonize.aioze.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    PairStatusEv,
    StreamErrorEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import ConnectFailureReason
from neonize.proto.Neonize_pb2 import TemporaryBan as TemporaryBanProto

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    EngineEvent,
    FailedEvent,
    LoggedOutEvent,
    QrCodeEvent,
)

# whatsmeow's QR channel: the first code lives 60 s, each following one 20 s.
FIRST_QR_SECONDS = 60.0
NEXT_QR_SECONDS = 20.0

_LOGOUT_REASONS = frozenset(
    {
        ConnectFailureReason.LOGGED_OUT,
        ConnectFailureReason.MAIN_DEVICE_GONE,
        ConnectFailureReason.UNKNOWN_LOGOUT,
    }
)
_RETRIED_REASONS = frozenset(
    {ConnectFailureReason.INTERNAL_SERVER_ERROR, ConnectFailureReason.SERVICE_UNAVAILABLE}
)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the linked device is, from neonize's Device record."""

    phone_number: str
    jid: str  # ``<digits>@s.whatsapp.net``
    device_jid: str  # with the device part, as whatsmeow's store keys it
    push_name: str | None = None
    lid: str | None = None


def identity_of(device: Any) -> Identity | None:
    jid = device.JID
    if not jid.User:
        return None
    device_jid = (
        f"{jid.User}:{jid.Device}@{jid.Server}" if jid.Device else f"{jid.User}@{jid.Server}"
    )
    lid = f"{device.LID.User}@{device.LID.Server}" if device.LID.User else None
    return Identity(
        phone_number=jid.User,
        jid=f"{jid.User}@{jid.Server}",
        device_jid=device_jid,
        push_name=device.PushName or None,
        lid=lid,
    )


def _reason_name(reason: int) -> str:
    try:
        return str(ConnectFailureReason.Name(reason)).lower()
    except ValueError:
        return f"reason {reason}"


def connected(session_id: str, identity: Identity | None) -> ConnectedEvent:
    if identity is None:
        return ConnectedEvent(session_id=session_id, phone_number="")
    return ConnectedEvent(
        session_id=session_id,
        phone_number=identity.phone_number,
        push_name=identity.push_name,
        jid=identity.jid,
    )


def map_connection_event(
    session_id: str, event: Any, *, identity: Identity | None, linked: bool
) -> EngineEvent | None:
    """The session event for one of whatsmeow's connection events, or None."""
    if isinstance(event, ConnectedEv | KeepAliveRestoredEv):
        return connected(session_id, identity)
    if isinstance(event, DisconnectedEv):
        detail = "the connection to WhatsApp dropped"
        detail += "; whatsmeow reconnects by itself" if linked else "; the link attempt ended"
        return DisconnectedEvent(session_id, DisconnectReason.NETWORK, linked, detail)
    if isinstance(event, KeepAliveTimeoutEv):
        since = (
            datetime.fromtimestamp(event.LastSuccess, UTC).isoformat() if event.LastSuccess else "?"
        )
        detail = f"{event.ErrorCount} keep-alive pings unanswered (last answer {since})"
        return DisconnectedEvent(session_id, DisconnectReason.KEEPALIVE_TIMEOUT, True, detail)
    if isinstance(event, StreamReplacedEv):
        detail = "another client connected with the same credentials; not reconnecting"
        return DisconnectedEvent(session_id, DisconnectReason.STREAM_REPLACED, False, detail)
    if isinstance(event, LoggedOutEv):
        when = "while connecting" if event.OnConnect else "while connected"
        detail = f"WhatsApp ended the link {when} ({_reason_name(event.Reason)})"
        return LoggedOutEvent(session_id, DisconnectReason.LOGGED_OUT_BY_PHONE, detail)
    if isinstance(event, TemporaryBanEv):
        try:
            code = str(TemporaryBanProto.TempBanReason.Name(event.Code)).lower()
        except ValueError:
            code = f"code {event.Code}"
        detail = f"temporarily banned ({code}); the ban lifts in {event.Expire} s"
        return FailedEvent(session_id, DisconnectReason.TEMPORARY_BAN, detail)
    if isinstance(event, ClientOutdatedEv):
        detail = "WhatsApp refuses this client version: upgrade neonize"
        return FailedEvent(session_id, DisconnectReason.CLIENT_OUTDATED, detail)
    if isinstance(event, ConnectFailureEv):
        return _connect_failure(session_id, event)
    if isinstance(event, StreamErrorEv):
        # whatsmeow reports codes it has no rule for; WhatsApp then closes the socket,
        # and a linked device reconnects by itself
        detail = f"WhatsApp closed the stream with error code {event.Code or '?'}"
        return DisconnectedEvent(session_id, DisconnectReason.STREAM_ERROR, linked, detail)
    if isinstance(event, PairStatusEv) and event.Status == PairStatusEv.ERROR:
        detail = f"the phone could not link this device: {event.Error or 'no reason given'}"
        return DisconnectedEvent(session_id, DisconnectReason.CONNECT_FAILURE, False, detail)
    return None


def _connect_failure(session_id: str, event: Any) -> EngineEvent:
    reason = event.Reason
    detail = f"WhatsApp refused the connection ({_reason_name(reason)})"
    if event.Message:
        detail += f": {event.Message}"
    if reason in _LOGOUT_REASONS:
        return LoggedOutEvent(session_id, DisconnectReason.LOGGED_OUT_BY_PHONE, detail)
    if reason == ConnectFailureReason.TEMP_BANNED:
        return FailedEvent(session_id, DisconnectReason.TEMPORARY_BAN, detail)
    if reason == ConnectFailureReason.CLIENT_OUTDATED:
        return FailedEvent(session_id, DisconnectReason.CLIENT_OUTDATED, detail)
    will_retry = reason in _RETRIED_REASONS
    return DisconnectedEvent(session_id, DisconnectReason.CONNECT_FAILURE, will_retry, detail)


def qr_event(session_id: str, code: str, index: int) -> QrCodeEvent:
    """The ``index``-th QR code of a link attempt (0 for the first)."""
    expires_in = FIRST_QR_SECONDS if index == 0 else NEXT_QR_SECONDS
    return QrCodeEvent(session_id=session_id, code=code, expires_in=expires_in)


def login_status_event(session_id: str, status: str, *, codes_ran_out: bool) -> EngineEvent | None:
    """The end of a link attempt, from the status of whatsmeow's QR channel.

    ``success`` is followed by the device record and ``Connected``, so it maps to
    nothing here. ``timeout`` means the codes ran out, or the socket dropped
    before they did (``codes_ran_out`` tells which).
    """
    if status in ("success", "code", "err-scanned-without-multidevice"):
        return None
    if status == "timeout":
        if codes_ran_out:
            detail = "no phone scanned the QR code before the last one expired"
            return DisconnectedEvent(session_id, DisconnectReason.QR_TIMEOUT, False, detail)
        detail = "the connection dropped while waiting for the QR code to be scanned"
        return DisconnectedEvent(session_id, DisconnectReason.NETWORK, False, detail)
    if status == "err-client-outdated":
        detail = "WhatsApp refuses this client version: upgrade neonize"
        return FailedEvent(session_id, DisconnectReason.CLIENT_OUTDATED, detail)
    if status == "error":
        detail = "pairing failed (the phone rejected the link, or it expired)"
        return DisconnectedEvent(session_id, DisconnectReason.CONNECT_FAILURE, False, detail)
    detail = f"the link attempt ended unexpectedly ({status})"
    return DisconnectedEvent(session_id, DisconnectReason.UNKNOWN, False, detail)
