"""The control face of a sandbox in another process: the same calls, over its socket.

The other process is a sandbox server (:class:`~.remote.RemoteNetwork`) or the
engine host running the sandbox engine (:class:`~wagate.engines.host.HostedEngine`).
"""

from __future__ import annotations

from typing import Any, Protocol

from wagate.engines.base import NetworkError
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.protocol import CONTROL_PREFIX


class ControlLine(Protocol):
    """Where control calls go: anything that forwards a request over :mod:`.protocol`."""

    url: str

    async def call(self, op: str, **args: Any) -> Any: ...


class RemoteControl:
    """Implements :class:`~wagate.engines.sandbox.ports.SandboxControl` remotely."""

    def __init__(self, network: ControlLine) -> None:
        self._network = network

    async def _call(self, operation: str, **args: Any) -> Any:
        try:
            return await self._network.call(CONTROL_PREFIX + operation, **args)
        except NetworkError as exc:
            # The router answers SandboxErrors; an unreachable sandbox is a 503.
            raise SandboxError.unavailable(f"{exc.message} ({self._network.url})") from None

    async def create_phone(
        self,
        number: str,
        name: str | None = None,
        *,
        online: bool = True,
        auto_read: bool = False,
        auto_reply: str | None = None,
        business_name: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        phone, created = await self._call(
            "create_phone",
            number=number,
            name=name,
            online=online,
            auto_read=auto_read,
            auto_reply=auto_reply,
            business_name=business_name,
        )
        return phone, created

    async def list_phones(self) -> list[dict[str, Any]]:
        phones: list[dict[str, Any]] = await self._call("list_phones")
        return phones

    async def get_phone(self, number: str) -> dict[str, Any]:
        phone: dict[str, Any] = await self._call("get_phone", number=number)
        return phone

    async def update_phone(self, number: str, changes: dict[str, Any]) -> dict[str, Any]:
        phone: dict[str, Any] = await self._call("update_phone", number=number, changes=changes)
        return phone

    async def delete_phone(self, number: str) -> None:
        await self._call("delete_phone", number=number)

    async def list_sessions(self) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = await self._call("list_sessions")
        return sessions

    async def link_by_qr(self, phone: str, qr: str) -> dict[str, Any]:
        linked: dict[str, Any] = await self._call("link_by_qr", phone=phone, qr=qr)
        return linked

    async def pair_by_code(self, phone: str, code: str) -> dict[str, Any]:
        linked: dict[str, Any] = await self._call("pair_by_code", phone=phone, code=code)
        return linked

    async def unlink(self, phone: str, session_id: str | None = None) -> list[str]:
        sessions: list[str] = await self._call("unlink", phone=phone, session_id=session_id)
        return sessions

    async def send_message(self, phone: str, message: dict[str, Any]) -> dict[str, Any]:
        sent: dict[str, Any] = await self._call("send_message", phone=phone, message=message)
        return sent

    async def list_messages(
        self, phone: str, *, chat: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = await self._call(
            "list_messages", phone=phone, chat=chat, limit=limit
        )
        return messages

    async def read_messages(self, phone: str, message_ids: list[str]) -> int:
        count: int = await self._call("read_messages", phone=phone, message_ids=message_ids)
        return count

    async def get_media(self, sha256: str) -> bytes:
        data: bytes = await self._call("get_media", sha256=sha256)
        return data

    async def create_group(self, name: str, owner: str, participants: list[str]) -> dict[str, Any]:
        group: dict[str, Any] = await self._call(
            "create_group", name=name, owner=owner, participants=participants
        )
        return group

    async def list_groups(self, phone: str | None = None) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = await self._call("list_groups", phone=phone)
        return groups

    async def update_group_participants(
        self, jid: str, *, add: list[str] | None = None, remove: list[str] | None = None
    ) -> dict[str, Any]:
        group: dict[str, Any] = await self._call(
            "update_group_participants", jid=jid, add=add, remove=remove
        )
        return group

    async def status(self) -> dict[str, Any]:
        status: dict[str, Any] = await self._call("status")
        return status

    async def disconnect(self, session_id: str) -> None:
        await self._call("disconnect", session_id=session_id)

    async def network_down(self) -> None:
        await self._call("network_down")

    async def network_up(self) -> None:
        await self._call("network_up")

    async def set_latency(self, ms: float) -> None:
        await self._call("set_latency", ms=ms)

    async def ban(self, *, session_id: str | None = None, phone: str | None = None) -> str:
        number: str = await self._call("ban", session_id=session_id, phone=phone)
        return number

    async def unban(self, phone: str) -> None:
        await self._call("unban", phone=phone)

    async def rate_limit(self, session_id: str, count: int = 1, retry_after: float = 1.0) -> None:
        await self._call("rate_limit", session_id=session_id, count=count, retry_after=retry_after)
