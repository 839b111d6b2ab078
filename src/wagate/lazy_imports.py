"""Importing a library without the optional libraries it imports eagerly.

python-socketio's package imports its clients and its Redis managers with the
server, and they import ``aiohttp``, ``requests`` and ``redis`` whenever those
are installed: about 20 MB resident at start that wagate's Socket.IO server
never uses (wagate's own Redis use imports ``redis`` itself, when configured).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def hidden_libraries(*names: str) -> Iterator[None]:
    """Inside, importing one of ``names`` that is not imported yet fails as if it
    were not installed; afterwards it imports normally again."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "not installed" to importers
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


class _OnFirstUse(types.ModuleType):
    """Stands for a library and imports it when one of its names is first read."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


def on_first_use(name: str) -> types.ModuleType | None:
    """A stand-in for library ``name`` that imports it on first use, or ``None``
    when it is not installed (what its importers expect then)."""
    if name in sys.modules and sys.modules[name] is not None:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        return None
    return _OnFirstUse(name)
