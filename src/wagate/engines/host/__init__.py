"""The engine host: engines that run in a supervised child process of the gateway.

- :class:`HostedEngine` (gateway side) is an ordinary engine to the session
  manager; it starts the host, forwards calls, restarts it when it dies and
  resumes its sessions;
- :mod:`.server` (host side) serves one engine over the socket protocol of
  :mod:`wagate.engines.sandbox.protocol`;
- ``WAGATE_ENGINE_HOSTED`` names the engines that run hosted (whatsmeow by default).
"""

from wagate.engines.host.engine import HostedEngine

__all__ = ["HostedEngine"]
