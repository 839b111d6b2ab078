"""neonize's asyncio client, adapted to run many sessions inside a server.

Three things differ from a plain ``NewAClient``:

- its blocking Go calls go through :class:`GoCalls`: the engine's thread pool
  for short calls, a daemon thread of its own for the long ``Neonize`` call,
  with the calls in flight counted so a stop can wait for them;
- QR codes, link statuses and events are handed to :class:`ClientCallbacks`
  straight from the Go thread (neonize would dispatch them on one event loop
  kept in a module global);
- neonize's finalizer, which stops the Go client whenever the Python object is
  collected, is detached: the session runtime decides when stopping is safe.

Every client gets a fresh ``uuid`` (the key of the Go side's client table), so
a session that is started again never collides with what is left of the last run.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from neonize._binder import ProxySettings, gocode
from neonize.aioze.client import ClientFactory, NewAClient
from neonize.aioze.events import Event
from neonize.events import INT_TO_EVENT
from neonize.proto.Neonize_pb2 import JID
from neonize.utils.log import log as neonize_log

from wagate.engines.base import NotConnectedError
from wagate.engines.whatsmeow.executor import run_in_daemon_thread
from wagate.engines.whatsmeow.history import HISTORY_EVENT, device_props
from wagate.engines.whatsmeow.ordering import ClientTables

logger = logging.getLogger(__name__)

# The neonize event codes a session listens to (0, the device record, always comes);
# history batches (13) only when history sync is on.
SUBSCRIBED_EVENTS: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 18, 21, 22, 44)
DEVICE_EVENT = 0
POOL_WARNING = 25  # warn after every this many leaked PostgreSQL connections


class ClientCallbacks(Protocol):
    """Called on Go's threads: implementations must only hand the value over."""

    def on_qr(self, code: str) -> None: ...

    def on_login_status(self, status: str) -> None: ...

    def on_event(self, code: int, event: Any) -> None: ...


def parse_jid(text: str) -> Any:
    """``628123:12@s.whatsapp.net`` -> neonize's JID protobuf."""
    user, _, server = text.partition("@")
    user, _, device = user.partition(":")
    user, _, agent = user.partition(".")
    return JID(
        User=user,
        Server=server,
        Device=int(device or 0),
        RawAgent=int(agent or 0),
        Integrator=0,
        IsEmpty=False,
    )


class GoCalls:
    """Stands in for neonize's ``async_gocode``: runs Go functions off the event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
        name: str,
        on_return: Callable[[str | None], None],
        tables: ClientTables,
    ) -> None:
        self._loop = loop
        self._executor = executor
        self._tables = tables
        self._name = name
        self._on_return = on_return
        self._in_flight = 0
        self._closed = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.neonize_call: asyncio.Future[Any] | None = None

    def close(self) -> None:
        """Refuse new calls: once Go's Stop has run, a call would crash the Go side."""
        self._closed = True

    def __getattr__(self, name: str) -> Any:
        function = getattr(gocode, name)
        if name == "Neonize":
            return self._neonize
        return functools.partial(self._call, function)

    def _neonize(self, *args: Any) -> asyncio.Future[Any]:
        """The long call: a thread of its own; ``on_return`` hears when Go really returns."""
        raw = run_in_daemon_thread(self._loop, gocode.Neonize, *args, name=f"wm-{self._name}")
        public: asyncio.Future[Any] = self._loop.create_future()

        def returned(done: asyncio.Future[Any]) -> None:
            error: str | None
            if done.cancelled():
                error = "cancelled"
            elif done.exception() is not None:
                error = repr(done.exception())
            else:
                answer = done.result()
                error = answer.decode(errors="replace") if answer else None
            self._on_return(error)
            if not public.done():
                public.set_result(b"" if error is None else error.encode())

        raw.add_done_callback(returned)
        self.neonize_call = public
        return public

    async def _call(self, function: Any, *args: Any) -> Any:
        if self._closed:
            raise NotConnectedError("the session is stopping")
        self._in_flight += 1
        self.idle.clear()
        try:
            return await self._tables.call(self._executor, function, *args)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.idle.set()

    def abandon(self) -> None:
        """Let neonize's connect task finish without waiting for the Go call to return.

        neonize's task calls the Go ``Stop`` when it is cancelled, which is only safe
        once a session is linked; resolving its future here avoids that.
        """
        if self.neonize_call is not None and not self.neonize_call.done():
            self.neonize_call.set_result(b"")


class _Events(Event):  # type: ignore[misc]
    """neonize's event table, delivering parsed events to our callbacks."""

    def __init__(self, client: Any, callbacks: ClientCallbacks, codes: tuple[int, ...]) -> None:
        super().__init__(client)
        self._callbacks = callbacks
        self.list_func = {code: None for code in codes}

    def execute(self, uuid: Any, binary: int, size: int, code: int) -> None:
        try:
            event_type = INT_TO_EVENT.get(code)
            if event_type is None:
                return
            event = event_type.FromString(ctypes.string_at(binary, size))
            self._callbacks.on_event(code, event)
        except Exception:  # never let an exception cross back into Go
            logger.exception("whatsmeow: dropped an event (code %s) that failed to parse", code)


class SessionClient(NewAClient):  # type: ignore[misc]
    """One run of one session against WhatsApp."""

    def __init__(
        self,
        database: str,
        callbacks: ClientCallbacks,
        calls: GoCalls,
        *,
        device_jid: str | None,
        device_name: str,
        history: str = "off",
        history_days: int = 7,
    ) -> None:
        props = device_props(device_name, history, history_days)
        super().__init__(database, props=props, uuid=uuid.uuid4().hex, new_device=True)
        self._stop_finalizer.detach()
        self._NewAClient__client = calls
        # The contact and chat-settings stores call Go too: through the same, ordered calls.
        self.contact._ContactStore__client = calls
        self.chat_settings._ChatSettingsStore__client = calls
        self._callbacks = callbacks
        codes = SUBSCRIBED_EVENTS + ((HISTORY_EVENT,) if history != "off" else ())
        self.event = _Events(self, callbacks, codes)
        if device_jid:
            self.jid = parse_jid(device_jid)
            self.new_device = False

    @property
    def go_id(self) -> bytes:
        """The key of this client in the Go side's tables."""
        key: bytes = self.uuid
        return key

    def _NewAClient__onQr(self, _uuid: Any, qr: int) -> None:
        try:
            self._callbacks.on_qr(ctypes.string_at(qr).decode())
        except Exception:
            logger.exception("whatsmeow: dropped a QR code")

    def _NewAClient__onLoginStatus(self, _uuid: Any, status: int) -> None:
        try:
            self._callbacks.on_login_status(ctypes.string_at(status).decode())
        except Exception:
            logger.exception("whatsmeow: dropped a link status")

    async def start(self, proxy_url: str | None, log_level: str) -> asyncio.Task[Any]:
        """Start the Go client; the returned task ends when the Go call returns."""
        neonize_log.setLevel(log_level.upper())
        proxy = ProxySettings(proxy_address=proxy_url) if proxy_url else None
        task: asyncio.Task[Any] = await self.connect(proxy)
        return task


class SessionClientFactory(ClientFactory):  # type: ignore[misc]
    """One whatsmeow store (SQLite file or PostgreSQL) for every session's client.

    neonize opens a new database pool for every client it starts and never closes
    it (see docs/whatsapp.md, "Known limits"): on PostgreSQL each holds a
    connection until the process exits, so the factory counts them and warns.
    """

    pools_opened = 0

    def new_session_client(
        self,
        callbacks: ClientCallbacks,
        calls: GoCalls,
        *,
        device_jid: str | None,
        device_name: str,
        history: str = "off",
        history_days: int = 7,
    ) -> SessionClient:
        client = SessionClient(
            self.database_name,
            callbacks,
            calls,
            device_jid=device_jid,
            device_name=device_name,
            history=history,
            history_days=history_days,
        )
        self.clients.append(client)
        self.pools_opened += 1
        if self.database_name.startswith("postgres") and self.pools_opened % POOL_WARNING == 0:
            logger.warning(
                "whatsmeow has started %d clients in this process, each holding a PostgreSQL"
                " connection that neonize never closes; restart wagate before the server's"
                " max_connections is reached",
                self.pools_opened,
            )
        return client

    def release(self, client: SessionClient) -> None:
        if client in self.clients:
            self.clients.remove(client)

    @staticmethod
    def generate_message_id(client: SessionClient) -> str:
        """whatsmeow's id generator (in memory, no network: fine to call on the loop)."""
        raw: bytes = gocode.GenerateMessageID(client.go_id)
        return raw.decode()

    @staticmethod
    def go_stop(go_id: bytes) -> None:
        """Blocking: disconnect a client and drop it from the Go side's tables."""
        gocode.Stop(go_id)

    @staticmethod
    def go_disconnect(go_id: bytes) -> None:
        """Blocking: close a client's socket, keeping it in the Go side's tables."""
        gocode.Disconnect(go_id)
