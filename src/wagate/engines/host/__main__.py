"""The engine host process: ``python -m wagate.engines.host`` (the gateway starts it).

It reads one JSON line from stdin (the engine's name, the gateway's settings
and the secret of its URL), opens the engine, prints ``engine host listening
on <url>`` and serves until stdin closes: the gateway died or let go of us,
and a host nobody drives must not keep sessions connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

from wagate.config import Settings
from wagate.engines.host.process import READY_PREFIX
from wagate.engines.host.server import serve
from wagate.logs import configure_logging


async def _end_with_stdin(task: asyncio.Task[None]) -> None:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # returns at end of file
    task.cancel()


def main() -> None:
    config = json.loads(sys.stdin.buffer.readline())
    settings = Settings(**config["settings"])
    configure_logging(settings)

    def announce(url: str) -> None:
        print(READY_PREFIX + url, flush=True)

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        watch = asyncio.create_task(_end_with_stdin(task))
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await serve(config["engine"], settings, config["token"], announce)
        finally:
            watch.cancel()

    asyncio.run(run())


if __name__ == "__main__":
    main()
