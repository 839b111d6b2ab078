"""The one table from the core's session states to the channel states of the
notification-channel seed (``inactive, connecting, qr_ready,
pairing_code_ready, active, error, logged_out``). REST answers and Socket.IO
events both read it."""

from __future__ import annotations

from wagate.engines.base import DisconnectReason
from wagate.sessions.models import SessionState

INACTIVE = "inactive"
CONNECTING = "connecting"
ACTIVE = "active"
ERROR = "error"

_BY_STATE: dict[SessionState, str] = {
    # Created without linking, or asked to connect and not showing a code yet.
    SessionState.PENDING: INACTIVE,
    SessionState.QR: "qr_ready",
    SessionState.PAIRING_CODE: "pairing_code_ready",
    SessionState.CONNECTED: ACTIVE,
    # The core reconnects it by itself (see the reasons below for the exceptions).
    SessionState.DISCONNECTED: CONNECTING,
    SessionState.LOGGED_OUT: "logged_out",
    SessionState.FAILED: ERROR,
    # Disconnected on request: stays so until connected again.
    SessionState.STOPPED: INACTIVE,
}

# A disconnected session the core does not reconnect: why, and what it reads as.
_DISCONNECTED_BY_REASON: dict[str, str] = {
    DisconnectReason.QR_TIMEOUT: INACTIVE,  # the link attempt ran out: connect again
    DisconnectReason.SHUTDOWN: INACTIVE,  # a link attempt the last stop cut short
    DisconnectReason.CONNECT_FAILURE: ERROR,
    DisconnectReason.STREAM_REPLACED: ERROR,  # another client took the device over
}

CHANNEL_STATES = (*dict.fromkeys(_BY_STATE.values()),)


def channel_status(state: SessionState | str, reason: str | None) -> str:
    state = SessionState(state)
    if state is SessionState.DISCONNECTED and reason in _DISCONNECTED_BY_REASON:
        return _DISCONNECTED_BY_REASON[reason]
    return _BY_STATE[state]
