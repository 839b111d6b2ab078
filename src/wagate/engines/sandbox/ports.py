"""The two faces of the sandbox network, each with a local and a remote implementation.

:class:`DevicePort` is what the engine needs: a gateway session's device
connection. :class:`SandboxControl` is what people and tests use to play the
phones and the network itself (the ``/sandbox/v1`` API is a thin router on it).
Control methods take and return plain JSON-shaped values and raise only
:class:`~wagate.engines.sandbox.models.SandboxError`; device methods raise only
the engine errors of :mod:`wagate.engines.base`.
"""

from __future__ import annotations

from typing import Any, Protocol

from wagate.engines.base import (
    EventSink,
    GroupInfo,
    NumberCheck,
    OutgoingMessage,
    Presence,
    SendReceipt,
)


class DevicePort(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def is_linked(self, session_id: str) -> bool: ...

    async def connect(self, session_id: str, sink: EventSink, *, resume: bool) -> None:
        """Link (QR codes follow) or resume (``ConnectedEvent`` follows), via ``sink``."""

    async def disconnect(self, session_id: str) -> None:
        """Drop the connection quietly, keeping the link."""

    async def logout(self, session_id: str) -> None: ...

    async def request_pairing_code(
        self, session_id: str, phone_number: str, sink: EventSink
    ) -> str: ...

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt: ...

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]: ...

    async def list_groups(self, session_id: str) -> list[GroupInfo]: ...

    async def get_group(self, session_id: str, jid: str) -> GroupInfo: ...

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None
    ) -> None: ...

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None: ...

    async def download_media(self, session_id: str, reference: str) -> bytes: ...


class SandboxControl(Protocol):
    """Phones, groups, links and faults. Every method may raise ``SandboxError``."""

    # -- phones -----------------------------------------------------------------
    async def create_phone(
        self,
        number: str,
        name: str | None = None,
        *,
        online: bool = True,
        auto_read: bool = False,
        auto_reply: str | None = None,
        business_name: str | None = None,
    ) -> tuple[dict[str, Any], bool]: ...

    async def list_phones(self) -> list[dict[str, Any]]: ...

    async def get_phone(self, number: str) -> dict[str, Any]: ...

    async def update_phone(self, number: str, changes: dict[str, Any]) -> dict[str, Any]: ...

    async def delete_phone(self, number: str) -> None: ...

    # -- linking ----------------------------------------------------------------
    async def list_sessions(self) -> list[dict[str, Any]]: ...

    async def link_by_qr(self, phone: str, qr: str) -> dict[str, Any]: ...

    async def pair_by_code(self, phone: str, code: str) -> dict[str, Any]: ...

    async def unlink(self, phone: str, session_id: str | None = None) -> list[str]: ...

    # -- messages ---------------------------------------------------------------
    async def send_message(self, phone: str, message: dict[str, Any]) -> dict[str, Any]: ...

    async def list_messages(
        self, phone: str, *, chat: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...

    async def read_messages(self, phone: str, message_ids: list[str]) -> int: ...

    async def get_media(self, sha256: str) -> bytes: ...

    # -- groups -----------------------------------------------------------------
    async def create_group(
        self, name: str, owner: str, participants: list[str]
    ) -> dict[str, Any]: ...

    async def list_groups(self, phone: str | None = None) -> list[dict[str, Any]]: ...

    async def update_group_participants(
        self, jid: str, *, add: list[str] | None = None, remove: list[str] | None = None
    ) -> dict[str, Any]: ...

    # -- faults and status ------------------------------------------------------
    async def status(self) -> dict[str, Any]: ...

    async def disconnect(self, session_id: str) -> None: ...

    async def network_down(self) -> None: ...

    async def network_up(self) -> None: ...

    async def set_latency(self, ms: float) -> None: ...

    async def ban(self, *, session_id: str | None = None, phone: str | None = None) -> str: ...

    async def unban(self, phone: str) -> None: ...

    async def rate_limit(
        self, session_id: str, count: int = 1, retry_after: float = 1.0
    ) -> None: ...


CONTROL_OPERATIONS: frozenset[str] = frozenset(
    name
    for name, value in vars(SandboxControl).items()
    if not name.startswith("_") and callable(value)
)
