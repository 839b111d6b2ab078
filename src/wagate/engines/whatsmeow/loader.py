"""Importing neonize without letting it configure the process.

neonize calls ``logging.basicConfig`` when it is imported, which would give the
root logger a handler and level of its choosing; the import here undoes that.
It also loads its compiled Go library, shipped inside the platform wheel. When
that file is missing neonize would try to download it from GitHub at import
time; :func:`load_neonize` refuses instead, so nothing is fetched at run time.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path

from wagate.engines.base import UnsupportedError

_MODULE = "neonize.aioze.client"


def load_neonize() -> None:
    """Import neonize's asyncio client once; raise UnsupportedError if it is missing."""
    if _MODULE in sys.modules:
        return
    spec = importlib.util.find_spec("neonize")
    if spec is None or not spec.submodule_search_locations:
        raise UnsupportedError(
            "the whatsmeow engine needs the neonize package: pip install neonize"
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    if not any(package.glob("neonize-*.*")):
        raise UnsupportedError(
            "neonize's compiled library is missing (no wheel for this platform?); "
            "refusing to let neonize download it at run time",
            detail=str(package),
        )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        importlib.import_module(_MODULE)
    except ImportError as exc:  # neonize itself, or libmagic it loads at import
        raise UnsupportedError(f"neonize cannot be imported: {exc}", detail=str(exc)) from exc
    except (OSError, RuntimeError) as exc:  # the Go library failed to load
        raise UnsupportedError(
            "neonize's compiled library failed to load", detail=str(exc)
        ) from exc
    else:
        # neonize warns on every connect that ffmpeg is missing; this engine builds its
        # media messages itself and never needs ffmpeg, so mark neonize's check as done.
        ffmpeg = sys.modules.get("neonize.utils.ffmpeg")
        if ffmpeg is not None:
            ffmpeg._ffmpeg_checked = True  # type: ignore[attr-defined]
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
