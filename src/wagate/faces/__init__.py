"""The faces: each seed's dialect of the API over the one core.

``base`` holds what every face declares (prefix, error shape, rate-limit
rules) and the table of mounted faces; one folder per seed dialect holds its
router, shapes and state map. ``docs/compat.md`` describes each.
"""

from __future__ import annotations

from wagate.faces.base import Face, Faces
from wagate.faces.broadcaster.face import BROADCASTER
from wagate.faces.channels.face import CHANNELS
from wagate.faces.multisession.face import MULTISESSION
from wagate.faces.native import NATIVE

__all__ = ["MOUNTED", "Face", "Faces"]

MOUNTED = Faces([NATIVE, MULTISESSION, CHANNELS, BROADCASTER])
