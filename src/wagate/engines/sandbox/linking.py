"""Link attempts: the QR codes an unlinked device shows, and pairing codes.

An attempt shows a new QR every ``sandbox_qr_interval`` seconds, at most
``sandbox_qr_max_rotations`` of them, then gives up as WhatsApp does. Asking
for a pairing code turns the attempt into one that waits for that code for the
same total time. Only the QR shown right now, or the code handed out, links.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from wagate.config import Settings
from wagate.engines.sandbox.ids import new_pairing_code, new_qr_code, normalize_pairing_code


@dataclass(slots=True)
class LinkAttempt:
    session_id: str
    qr: str | None = None
    pairing_code: str | None = None
    pairing_phone: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class LinkAttempts:
    def __init__(
        self,
        settings: Settings,
        *,
        on_qr: Callable[[str, str, float], None],
        on_timeout: Callable[[str], None],
    ) -> None:
        self._interval = settings.sandbox_qr_interval
        self._rotations = settings.sandbox_qr_max_rotations
        self._on_qr = on_qr
        self._on_timeout = on_timeout
        self._attempts: dict[str, LinkAttempt] = {}
        self._by_qr: dict[str, str] = {}
        self._by_code: dict[str, str] = {}

    def get(self, session_id: str) -> LinkAttempt | None:
        return self._attempts.get(session_id)

    def start(self, session_id: str) -> None:
        self.end(session_id)
        attempt = LinkAttempt(session_id)
        self._attempts[session_id] = attempt
        attempt.task = asyncio.create_task(self._show_qr_codes(attempt), name=f"qr-{session_id}")

    def request_pairing(self, session_id: str, phone_number: str) -> str:
        """Switch the attempt to a pairing code bound to ``phone_number``."""
        attempt = self._attempts.get(session_id)
        if attempt is None:
            attempt = LinkAttempt(session_id)
            self._attempts[session_id] = attempt
        self._stop(attempt)
        code = new_pairing_code()
        while code in self._by_code:
            code = new_pairing_code()
        attempt.pairing_code = code
        attempt.pairing_phone = phone_number
        self._by_code[code] = session_id
        attempt.task = asyncio.create_task(self._await_code(attempt), name=f"pair-{session_id}")
        return code

    def session_for_qr(self, qr: str) -> str | None:
        return self._by_qr.get(qr.strip())

    def attempt_for_code(self, code: str) -> LinkAttempt | None:
        session_id = self._by_code.get(normalize_pairing_code(code))
        return None if session_id is None else self._attempts.get(session_id)

    def end(self, session_id: str) -> None:
        """Forget the attempt without a word (it linked, or the device left)."""
        attempt = self._attempts.pop(session_id, None)
        if attempt is not None:
            self._stop(attempt)

    def end_all(self) -> None:
        for session_id in list(self._attempts):
            self.end(session_id)

    def _stop(self, attempt: LinkAttempt) -> None:
        if attempt.task is not None and attempt.task is not asyncio.current_task():
            attempt.task.cancel()
        attempt.task = None
        if attempt.qr is not None:
            self._by_qr.pop(attempt.qr, None)
            attempt.qr = None
        if attempt.pairing_code is not None:
            self._by_code.pop(attempt.pairing_code, None)
            attempt.pairing_code = None
            attempt.pairing_phone = None

    async def _show_qr_codes(self, attempt: LinkAttempt) -> None:
        for _ in range(self._rotations):
            if attempt.qr is not None:
                self._by_qr.pop(attempt.qr, None)
            qr = new_qr_code()
            while qr in self._by_qr:
                qr = new_qr_code()
            attempt.qr = qr
            self._by_qr[qr] = attempt.session_id
            self._on_qr(attempt.session_id, qr, self._interval)
            await asyncio.sleep(self._interval)
        self._time_out(attempt)

    async def _await_code(self, attempt: LinkAttempt) -> None:
        await asyncio.sleep(self._interval * self._rotations)
        self._time_out(attempt)

    def _time_out(self, attempt: LinkAttempt) -> None:
        if self._attempts.get(attempt.session_id) is attempt:
            self.end(attempt.session_id)
            self._on_timeout(attempt.session_id)
