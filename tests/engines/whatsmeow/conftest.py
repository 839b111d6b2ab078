"""Builders for neonize's own protobuf events, and an offline whatsmeow engine.

"Offline" means WhatsApp is replaced by a loopback address: the engine is told
to go through an HTTP proxy on 127.0.0.1 that refuses connections (or accepts
and never answers), so no test sends a packet beyond this machine.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("neonize") is None:  # the engine's own dependency is missing
    collect_ignore_glob = ["test_*.py"]
else:
    from neonize._binder import func_callback_bytes2, gocode
    from neonize.proto.Neonize_pb2 import (
        JID,
        Message,
        MessageInfo,
        MessageSource,
        Receipt,
    )
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
    from neonize.utils.log import log_whatsmeow

from wagate.config import Settings
from wagate.engines.base import EngineContext, EngineEvent

ME = "15550001111"
ALICE = "15550002222"
BOB = "15550003333"
GROUP = "120363000000000001"
ALICE_LID = "98765432101234"


class Protos:
    """neonize protobufs with every required field filled, the way Go sends them."""

    ME, ALICE, BOB, GROUP, ALICE_LID = ME, ALICE, BOB, GROUP, ALICE_LID

    @staticmethod
    def jid(user: str = "", server: str = "s.whatsapp.net", device: int = 0) -> Any:
        return JID(
            User=user,
            Server=server if user else "",
            Device=device,
            RawAgent=0,
            Integrator=0,
            IsEmpty=not user,
        )

    @classmethod
    def source(
        cls,
        chat: Any,
        sender: Any,
        *,
        from_me: bool = False,
        sender_alt: Any = None,
        recipient_alt: Any = None,
    ) -> Any:
        return MessageSource(
            Chat=chat,
            Sender=sender,
            IsFromMe=from_me,
            IsGroup=chat.Server == "g.us",
            SenderAlt=sender_alt or cls.jid(),
            RecipientAlt=recipient_alt or cls.jid(),
            BroadcastListOwner=cls.jid(),
        )

    @classmethod
    def message(
        cls,
        content: Any,
        *,
        message_id: str = "3EB0AAAAAAAAAAAAAAAAAA",
        source: Any = None,
        push_name: str = "Alice",
        timestamp_ms: int = 1_760_000_000_000,
        is_edit: bool = False,
    ) -> Any:
        """A MessageEv; ``content`` is a waE2E.Message (or its keyword arguments)."""
        if isinstance(content, dict):
            content = WAMessage(**content)
        info = MessageInfo(
            MessageSource=source or cls.source(cls.jid(ALICE), cls.jid(ALICE)),
            ID=message_id,
            ServerID=0,
            Type="text",
            Pushname=push_name,
            Timestamp=timestamp_ms,
            Category="",
            Multicast=False,
            MediaType="",
            Edit="",
        )
        return Message(
            Info=info,
            Message=content,
            IsEphemeral=False,
            IsViewOnce=False,
            IsViewOnceV2=False,
            IsViewOnceV2Extension=False,
            IsDocumentWithCaption=False,
            IsLottieSticker=False,
            IsEdit=is_edit,
            UnavailableRequestID="",
            RetryCount=0,
        )

    @classmethod
    def receipt(
        cls, kind: int, ids: list[str], *, source: Any = None, at: int = 1_760_000_100
    ) -> Any:
        return Receipt(
            MessageSource=source or cls.source(cls.jid(ALICE), cls.jid(ALICE)),
            MessageIDs=ids,
            Timestamp=at,
            Type=kind,
        )

    @staticmethod
    def wire(event: Any) -> Any:
        """The event as it arrives from Go: serialized, then parsed by its class."""
        return type(event).FromString(event.SerializeToString())


@pytest.fixture
def protos() -> type[Protos]:
    return Protos


class WhatsmeowDb:
    """whatsmeow's own tables, made by whatsmeow, and device rows shaped like its own."""

    @staticmethod
    def create_tables(dsn: str) -> None:
        """Let whatsmeow create (or upgrade) its schema, as a connect would."""
        answer = gocode.GetAllDevices(dsn.encode(), func_callback_bytes2(log_whatsmeow))
        assert not answer.startswith(b"error"), answer

    @staticmethod
    def fake_device(path: Path, jid: str, push_name: str = "") -> None:
        """A device row with keys of the right sizes (nothing real), and one identity key."""
        keys = [os.urandom(n) for n in (32, 32, 32, 64)]
        signatures = [os.urandom(n) for n in (64, 32, 64)]
        with sqlite3.connect(path) as db:
            db.execute(
                "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key,"
                " signed_pre_key, signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details,"
                " adv_account_sig, adv_account_sig_key, adv_device_sig, push_name)"
                " VALUES (?, 1, ?, ?, ?, 1, ?, x'', x'', ?, ?, ?, ?)",
                (jid, *keys, *signatures, push_name),
            )
            db.execute(
                "INSERT INTO whatsmeow_identity_keys (our_jid, their_id, identity)"
                " VALUES (?, ?, ?)",
                (jid, "15550002222:0", os.urandom(32)),
            )


@pytest.fixture
def whatsmeow_db() -> type[WhatsmeowDb]:
    return WhatsmeowDb


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Recorder:
    """The engine's event sink: keeps events, and lets a test await the one it wants."""

    events: list[EngineEvent] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, event: EngineEvent) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, kind: type, session_id: str) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and e.session_id == session_id]

    async def wait_count(
        self, kind: type, session_id: str, count: int, timeout: float = 30.0
    ) -> list[Any]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.of(kind, session_id)) >= count)
            return self.of(kind, session_id)

    async def wait_for(self, kind: type, session_id: str, timeout: float = 30.0) -> Any:
        def found() -> Any:
            for event in self.events:
                if isinstance(event, kind) and getattr(event, "session_id", None) == session_id:
                    return event
            return None

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
            return found()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def offline_settings(data_dir: Path, proxy_port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "engines": ["whatsmeow"],
        "whatsmeow_proxy_url": f"http://127.0.0.1:{proxy_port}",
        "whatsmeow_connect_timeout": 10.0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def make_context(tmp_path: Path, recorder: Recorder) -> Iterator[Any]:
    def make(proxy_port: int | None = None, **overrides: Any) -> EngineContext:
        data_dir = tmp_path / "data"
        settings = offline_settings(data_dir, proxy_port or closed_port(), **overrides)
        return EngineContext(settings=settings, emit=recorder, data_dir=data_dir)

    yield make


@dataclass
class SilentProxy:
    """A loopback 'proxy' that accepts connections and never answers: a hanging network."""

    server: asyncio.Server
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def port(self) -> int:
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def silent_proxy() -> AsyncIterator[SilentProxy]:
    writers: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    proxy = SilentProxy(await asyncio.start_server(hold, "127.0.0.1", 0), writers)
    yield proxy
    await proxy.close()


OFFLINE_DEVICE = f"{ME}:17@s.whatsapp.net"


@pytest.fixture
async def offline_runs(make_context: Any, recorder: Recorder) -> AsyncIterator[Any]:
    """Makes session runs whose Go client is real and in Go's tables, with a device (and
    a push name, unless told otherwise), but never reached WhatsApp: its connect went
    to a loopback proxy that refuses connections. Calls on it go all the way into
    whatsmeow and come back as "websocket not connected"."""
    from wagate.engines.whatsmeow.client import GoCalls, SessionClientFactory
    from wagate.engines.whatsmeow.executor import DaemonExecutor
    from wagate.engines.whatsmeow.inbound import handle_inbound
    from wagate.engines.whatsmeow.runtime import Phase, SessionRun
    from wagate.engines.whatsmeow.shared import Shared
    from wagate.engines.whatsmeow.store import DeviceStore, whatsmeow_dsn

    cleanups: list[Any] = []

    async def make(push_name: str = "Shop") -> SessionRun:
        context = make_context()
        settings, data_dir = context.settings, context.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        dsn = whatsmeow_dsn(settings, data_dir)
        WhatsmeowDb.create_tables(dsn)
        WhatsmeowDb.fake_device(data_dir / "whatsmeow.db", OFFLINE_DEVICE, push_name=push_name)
        store = DeviceStore(settings, data_dir)
        await store.open()
        executor = DaemonExecutor(4)
        shared = Shared(
            settings=settings,
            emit=recorder,
            store=store,
            factory=SessionClientFactory(dsn),
            executor=executor,
            linked={"s1": OFFLINE_DEVICE},
        )
        run = SessionRun(shared, "s1", handle_inbound)
        loop = asyncio.get_running_loop()
        returned: asyncio.Future[str | None] = loop.create_future()

        def go_returned(error: str | None) -> None:
            if not returned.done():
                returned.set_result(error)

        calls = GoCalls(loop, executor, "s1", go_returned, shared.tables)
        client = shared.factory.new_session_client(
            run, calls, device_jid=OFFLINE_DEVICE, device_name="wagate"
        )
        connecting = await client.start(settings.whatsmeow_proxy_url, "ERROR")
        error = await asyncio.wait_for(returned, 20)
        assert error is not None and "connection refused" in error  # offline, as intended
        await asyncio.gather(connecting, return_exceptions=True)
        run.client, run.calls, run.phase, run.connected = client, calls, Phase.LINKED, True

        async def cleanup() -> None:
            # the Go call already returned (to this fixture, not to the run): stopping the
            # run would wait for a return that never comes, so end its tasks directly
            tasks = [*shared.background, *([run._pump] if run._pump else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.wait_for(calls.idle.wait(), 10)
            await loop.run_in_executor(executor, SessionClientFactory.go_stop, client.go_id)
            await store.close()
            executor.shutdown(wait=False)

        cleanups.append(cleanup)
        return run

    yield make
    for cleanup in cleanups:
        await cleanup()


@pytest.fixture
async def shared(tmp_path: Path, recorder: Recorder) -> AsyncIterator[Any]:
    """What the runs of an engine share, for runs fed by hand (no Go call behind them)."""
    from wagate.engines.whatsmeow.client import SessionClientFactory
    from wagate.engines.whatsmeow.executor import DaemonExecutor
    from wagate.engines.whatsmeow.shared import Shared
    from wagate.engines.whatsmeow.store import DeviceStore, whatsmeow_dsn

    settings = Settings(data_dir=tmp_path)
    store = DeviceStore(settings, tmp_path)
    await store.open()
    executor = DaemonExecutor(4)
    yield Shared(
        settings=settings,
        emit=recorder,
        store=store,
        factory=SessionClientFactory(whatsmeow_dsn(settings, tmp_path)),
        executor=executor,
        linked={},
    )
    await store.close()
    executor.shutdown(wait=False)
