"""Keeping WebSocket tokens out of the log.

Browsers cannot set headers on a WebSocket, so streams take their JWT as
``?token=``; uvicorn logs each accepted WebSocket with its query string. This
filter drops query strings from those lines.
"""

from __future__ import annotations

import logging


class HideWebSocketQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "WebSocket" in record.msg and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in args
            )
        return True


def hide_websocket_queries() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, HideWebSocketQueries) for f in logger.filters):
        logger.addFilter(HideWebSocketQueries())
