"""The engine host as a child process of the gateway: started, watched, ended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
import sys

from wagate.config import Settings

logger = logging.getLogger("wagate.engines.host")

READY_PREFIX = "engine host listening on "
STOP_SECONDS = 15.0  # how long a host may take to close its engine before it is killed


class HostStartError(RuntimeError):
    """The host process died or said nothing before it was ready."""


class HostProcess:
    """One run of ``python -m wagate.engines.host`` for one engine."""

    def __init__(self, engine_name: str, settings: Settings, *, start_timeout: float) -> None:
        self.engine_name = engine_name
        self._settings = settings
        self._start_timeout = start_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._stdout: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> str:
        """Start the host and return its URL once it serves."""
        token = secrets.token_urlsafe(32)
        config = {
            "engine": self.engine_name,
            "token": token,
            "settings": self._settings.model_dump(mode="json"),
        }
        # Settings and the URL's secret go through stdin, never argv or the environment;
        # stdin stays open: the host ends when it closes (when this process dies).
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wagate.engines.host",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C meant for the gateway is the gateway's to pass on
        )
        self._process = process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(config).encode() + b"\n")
        await process.stdin.drain()
        try:
            async with asyncio.timeout(self._start_timeout):
                while True:
                    line = await process.stdout.readline()
                    if not line:
                        raise HostStartError(f"exited with {await process.wait()} while starting")
                    text = line.decode(errors="replace").strip()
                    if text.startswith(READY_PREFIX):
                        break
                    logger.info("engine host %s: %s", self.engine_name, text)
        except (TimeoutError, HostStartError) as exc:
            await self.stop()
            raise HostStartError(
                f"the {self.engine_name} engine host {exc or 'timed out'}"
            ) from None
        self._stdout = asyncio.create_task(self._drain_stdout(process.stdout))
        return text.removeprefix(READY_PREFIX)

    async def _drain_stdout(self, stdout: asyncio.StreamReader) -> None:
        # neonize's Go side prints to stdout; a full pipe would block its threads.
        while line := await stdout.readline():
            logger.debug("engine host %s: %s", self.engine_name, line.decode(errors="replace"))

    async def wait(self) -> int:
        assert self._process is not None
        return await self._process.wait()

    def kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def stop(self) -> None:
        """Ask the host to close its engine (SIGTERM); kill it if it takes too long."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_SECONDS)
            except TimeoutError:
                logger.warning("engine host %s did not stop in time; killed", self.engine_name)
                self.kill()
                await process.wait()
        if process.stdin is not None:
            process.stdin.close()
        if self._stdout is not None:
            self._stdout.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stdout
