"""The calls an engine in another process answers unchanged: each one is a
request named after the method, with the method's arguments.

Both the engine host's supervisor (:class:`~wagate.engines.host.engine.HostedEngine`)
and a remote sandbox network (:class:`~wagate.engines.sandbox.remote.RemoteNetwork`)
forward these; each provides ``call`` (how the request travels, and what a lost
peer becomes) and keeps the calls that also change its own state.
"""

from __future__ import annotations

from typing import Any

from wagate.engines.base import GroupInfo, NumberCheck, OutgoingMessage, Presence, SendReceipt


class ForwardedCalls:
    """Session operations that are a plain request to the engine's peer."""

    async def call(self, op: str, **args: Any) -> Any:
        raise NotImplementedError

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt:
        receipt: SendReceipt = await self.call("send", session_id=session_id, message=message)
        return receipt

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]:
        checks: list[NumberCheck] = await self.call(
            "check_numbers", session_id=session_id, numbers=numbers
        )
        return checks

    async def list_groups(self, session_id: str) -> list[GroupInfo]:
        groups: list[GroupInfo] = await self.call("list_groups", session_id=session_id)
        return groups

    async def get_group(self, session_id: str, jid: str) -> GroupInfo:
        group: GroupInfo = await self.call("get_group", session_id=session_id, jid=jid)
        return group

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None = None
    ) -> None:
        await self.call(
            "mark_read", session_id=session_id, chat=chat, message_ids=message_ids, sender=sender
        )

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None:
        await self.call("send_presence", session_id=session_id, chat=chat, presence=presence)
