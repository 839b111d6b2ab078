"""The sandbox: a simulated WhatsApp network, its engine, and its standalone server.

- :class:`SandboxEngine` is the engine (``engine.control`` drives phones and faults);
- :class:`SandboxNetwork` is the network itself, in-process;
- :mod:`wagate.engines.sandbox.server` runs it as its own process.
"""

from wagate.engines.sandbox.control import LocalControl
from wagate.engines.sandbox.engine import SandboxEngine
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.network import SandboxNetwork
from wagate.engines.sandbox.ports import DevicePort, SandboxControl
from wagate.engines.sandbox.remote_control import RemoteControl

__all__ = [
    "DevicePort",
    "LocalControl",
    "RemoteControl",
    "SandboxControl",
    "SandboxEngine",
    "SandboxError",
    "SandboxNetwork",
]
