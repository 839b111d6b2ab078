"""The sandbox engine: wagate's :class:`~wagate.engines.base.Engine` on the sandbox network.

In-process by default (the network lives in this engine, under the gateway's
data folder); with ``WAGATE_SANDBOX_URL`` set it reaches a sandbox process
over a WebSocket instead. Either way ``engine.control`` is the control face
the ``/sandbox/v1`` router drives, and the network's events are handed to the
gateway as they are: the network already speaks in engine events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from websockets.exceptions import WebSocketException

from wagate.engines.base import (
    Engine,
    EngineContext,
    EngineError,
    EngineEvent,
    GroupInfo,
    IncomingMedia,
    NetworkError,
    NumberCheck,
    OutgoingMessage,
    Presence,
    SendReceipt,
)
from wagate.engines.sandbox.control import LocalControl
from wagate.engines.sandbox.ids import new_message_id
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.network import SandboxNetwork
from wagate.engines.sandbox.ports import DevicePort, SandboxControl
from wagate.engines.sandbox.remote import RemoteNetwork
from wagate.engines.sandbox.remote_control import RemoteControl

logger = logging.getLogger("wagate.sandbox.engine")


@contextmanager
def _engine_errors() -> Iterator[None]:
    """The one boundary where anything else becomes an engine error."""
    try:
        yield
    except EngineError:
        raise
    except SandboxError as exc:
        raise EngineError(exc.message) from exc
    except (OSError, WebSocketException) as exc:
        raise NetworkError("the sandbox network failed", detail=str(exc)) from exc
    except Exception as exc:
        logger.exception("unexpected sandbox failure")
        raise EngineError("the sandbox failed", detail=repr(exc)) from exc


class SandboxEngine:
    name = "sandbox"

    def __init__(self, context: EngineContext, *, network: SandboxNetwork | None = None) -> None:
        """``network`` shares an in-process network already opened by its owner
        (several engines on one network, as several gateways on one sandbox)."""
        self._context = context
        self._owns_network = network is None
        settings = context.settings
        self.network: SandboxNetwork | None = None
        self.control: SandboxControl
        self._port: DevicePort
        if network is not None:
            self.network = self._port = network
            self.control = LocalControl(network)
        elif settings.sandbox_url:
            remote = RemoteNetwork(
                settings.sandbox_url,
                context.data_dir / "sandbox-remote" / "linked-sessions.json",
                keepalive=settings.keepalive_seconds,
            )
            self._port = remote
            self.control = RemoteControl(remote)
        else:
            self.network = SandboxNetwork(settings, context.data_dir)
            self._port = self.network
            self.control = LocalControl(self.network)

    @property
    def remote(self) -> bool:
        return self.network is None

    async def open(self) -> None:
        if self._owns_network:
            with _engine_errors():
                await self._port.open()

    async def close(self) -> None:
        if self._owns_network:
            with _engine_errors():
                await self._port.close()

    async def start_session(self, session_id: str) -> None:
        """Resume a linked session (``ConnectedEvent``) or begin linking (QR codes).

        Raises ``NetworkError`` while the network is down or unreachable and
        ``SessionBannedError`` for a banned account."""
        with _engine_errors():
            await self._port.connect(session_id, self._emit, resume=self.is_linked(session_id))

    async def request_pairing_code(self, session_id: str, phone_number: str) -> str:
        with _engine_errors():
            return await self._port.request_pairing_code(session_id, phone_number, self._emit)

    async def stop_session(self, session_id: str) -> None:
        with _engine_errors():
            await self._port.disconnect(session_id)

    async def logout(self, session_id: str) -> None:
        with _engine_errors():
            await self._port.logout(session_id)

    def is_linked(self, session_id: str) -> bool:
        return self._port.is_linked(session_id)

    def new_message_id(self, session_id: str) -> str:
        return new_message_id()

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt:
        with _engine_errors():
            return await self._port.send(session_id, message)

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]:
        with _engine_errors():
            return await self._port.check_numbers(session_id, numbers)

    async def list_groups(self, session_id: str) -> list[GroupInfo]:
        with _engine_errors():
            return await self._port.list_groups(session_id)

    async def get_group(self, session_id: str, jid: str) -> GroupInfo:
        with _engine_errors():
            return await self._port.get_group(session_id, jid)

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None = None
    ) -> None:
        with _engine_errors():
            await self._port.mark_read(session_id, chat, message_ids, sender)

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None:
        with _engine_errors():
            await self._port.send_presence(session_id, chat, presence)

    async def download_media(self, session_id: str, media: IncomingMedia) -> bytes:
        with _engine_errors():
            return await self._port.download_media(session_id, media.reference)

    async def _emit(self, event: EngineEvent) -> None:
        try:
            await self._context.emit(event)
        except Exception:
            # The network must keep delivering to other sessions whatever a handler does.
            logger.exception("handling %s for %s failed", type(event).__name__, event.session_id)


def _conforms(context: EngineContext) -> tuple[Engine, DevicePort, DevicePort]:
    """Never called: mypy checks here that each part keeps its protocol."""
    engine = SandboxEngine(context)
    network = SandboxNetwork(context.settings, context.data_dir)
    remote = RemoteNetwork("ws://127.0.0.1:1/", context.data_dir)
    control: SandboxControl = LocalControl(network)
    control = RemoteControl(remote)
    del control
    return engine, network, remote
