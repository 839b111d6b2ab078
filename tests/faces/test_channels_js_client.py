"""The seed's own JavaScript client: ``/socket.io/socket.io.js`` served from the
``socket.io-client`` package ``make install`` installs, the seed's
``socket.io-client`` code under Node against a real uvicorn (it starts on
long-polling and upgrades to WebSocket), and a client that keeps working
across a gateway restart."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from tests.faces.channels_tools import PREFIX, Channels
from tests.faces.test_channels_socket import qr_text
from tests.live.test_events_stream import SLOW_QR

from wagate.faces.channels.client_script import client_script

ROOT = Path(__file__).resolve().parents[2]
LISTENER = Path(__file__).parent / "fixtures" / "channel_listener.mjs"
NODE = shutil.which("node")
INSTALLED = client_script()
NOT_INSTALLED = "socket.io-client is not installed (make install installs it when npm is present)"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**SLOW_QR, "socketio_ping_interval": 1.0, "socketio_ping_timeout": 3.0}


def test_the_client_script_is_looked_up_in_node_modules(tmp_path: Path) -> None:
    assert client_script((tmp_path,)) is None
    dist = tmp_path / "node_modules" / "socket.io-client" / "dist"
    dist.mkdir(parents=True)
    (dist / "socket.io.js").write_text("// full")
    assert client_script((tmp_path,)) == dist / "socket.io.js"
    (dist / "socket.io.min.js").write_text("// minified")
    assert client_script((tmp_path / "elsewhere", tmp_path)) == dist / "socket.io.min.js"


@pytest.mark.skipif(INSTALLED is None, reason=NOT_INSTALLED)
async def test_socket_io_js_is_served_from_the_package(client: httpx.AsyncClient) -> None:
    response = await client.get("/socket.io/socket.io.js")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/javascript")
    assert INSTALLED is not None
    assert response.content == INSTALLED.read_bytes()
    # The engine's own path next to it still answers Socket.IO.
    handshake = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert handshake.status_code == 200 and handshake.text.startswith("0{")


class NodeListener:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []

    async def next(self, event: str, timeout: float = 15.0) -> Any:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                assert line, f"the Node client ended; it printed {self.seen}"
                message = json.loads(line)
                self.seen.append(message)
                if message["event"] == event:
                    return message["data"]

    async def status(self, status: str) -> None:
        while (await self.next("connection_update"))["status"] != status:
            pass


@pytest.fixture
async def node_listener() -> AsyncIterator[Callable[..., Any]]:
    processes: list[asyncio.subprocess.Process] = []

    async def _start(url: str, api_key: str, channel_id: str) -> NodeListener:
        assert NODE is not None
        process = await asyncio.create_subprocess_exec(
            NODE,
            str(LISTENER),
            url,
            api_key,
            channel_id,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        processes.append(process)
        return NodeListener(process)

    yield _start
    for process in processes:
        if process.stdin is not None:
            process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.skipif(INSTALLED is None, reason=NOT_INSTALLED)
async def test_the_seeds_socket_io_client_under_node(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    wait_until: Any,
    ws_base: str,
    node_listener: Callable[..., Any],
) -> None:
    channels = Channels(client, wait_until)
    channel_id = (await channels.create(user.headers))["channelId"]
    listener = await node_listener(ws_base.replace("ws://", "http://"), user.token, channel_id)
    assert (await listener.next("authenticated"))["channels"] == [channel_id]
    await listener.status("inactive")
    await channels.connect(user.headers, channel_id)
    code = qr_text((await listener.next("qr_code"))["qrCode"])
    phone = await session_tools.phone(user.headers)
    scanned = await client.post(
        f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=user.headers
    )
    assert scanned.status_code == 200, scanned.text
    await listener.status("active")
    # socket.io-client starts on long-polling and upgrades to WebSocket.
    assert {"event": "upgrade", "data": "websocket"} in listener.seen


async def test_a_client_keeps_working_across_a_gateway_restart(
    gateway_process: Callable[..., Any],
) -> None:
    gateway = gateway_process(WAGATE_SOCKETIO_PING_INTERVAL="1", WAGATE_SOCKETIO_PING_TIMEOUT="3")
    await asyncio.to_thread(gateway.start)
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        registered = await http.post(
            "/api/v1/auth/register",
            json={"email": "restart@example.com", "password": "correct-horse-9"},
        )
        token = registered.json()["data"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = await http.post(PREFIX, json={"name": "Survivor"}, headers=headers)
        channel_id = created.json()["payload"]["channelId"]

        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        sio = socketio.AsyncClient(reconnection_delay=0.2, reconnection_delay_max=1)

        @sio.on("connect")
        async def on_connect() -> None:
            # What the docs ask of a client: authenticate again on every connect.
            await sio.emit("authenticate", {"apiKey": token})

        @sio.on("authenticated")
        async def on_authenticated(data: Any) -> None:
            await events.put(("authenticated", data))
            await sio.emit("subscribe_channel", {"channelId": channel_id})

        for name in ("connection_update", "qr_code", "error"):

            async def keep(data: Any, name: str = name) -> None:
                await events.put((name, data))

            sio.on(name, keep)

        async def next_event(name: str) -> Any:
            async with asyncio.timeout(30):
                while True:
                    event, data = await events.get()
                    if event == name:
                        return data

        await sio.connect(gateway.base_url, socketio_path="socket.io")
        try:
            await next_event("authenticated")
            assert (await next_event("connection_update"))["status"] == "inactive"
            await asyncio.to_thread(gateway.stop)
            await asyncio.to_thread(gateway.start)
            await next_event("authenticated")
            assert (await next_event("connection_update"))["status"] == "inactive"
            connected = await http.post(f"{PREFIX}/{channel_id}/connect", json={}, headers=headers)
            assert connected.status_code == 200, connected.text
            assert (await next_event("qr_code"))["channelId"] == channel_id
        finally:
            await sio.disconnect()
