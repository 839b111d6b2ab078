"""wagate: a self-hosted WhatsApp HTTP API gateway."""

import sys

# httpx's package imports its command-line client, and with it click, rich and
# pygments when they are installed (3 MB resident); wagate never runs it. Marked
# missing before httpx is first imported, httpx leaves it out (``httpx.main``
# then says to install ``httpx[cli]``; the ``httpx`` command itself is unaffected).
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
