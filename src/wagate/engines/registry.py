"""Engines by name. The only module besides ``app.py`` that knows concrete engines.

Built-in engines are imported lazily, so an engine whose library is missing costs
nothing until it is enabled. Third-party engines register through the
``wagate.engines`` entry-point group, naming an :data:`EngineFactory`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from wagate.engines.base import Engine, EngineContext, EngineFactory

_BUILTIN: dict[str, str] = {
    "sandbox": "wagate.engines.sandbox.engine:SandboxEngine",
    "whatsmeow": "wagate.engines.whatsmeow.engine:WhatsmeowEngine",
}
_registered: dict[str, EngineFactory] = {}


class UnknownEngineError(LookupError):
    pass


def register_engine(name: str, factory: EngineFactory) -> None:
    _registered[name] = factory


def known_engines() -> list[str]:
    plugins = [ep.name for ep in entry_points(group="wagate.engines")]
    return sorted({*_BUILTIN, *_registered, *plugins})


def _load(name: str) -> EngineFactory:
    if name in _registered:
        return _registered[name]
    target = _BUILTIN.get(name)
    if target is None:
        for ep in entry_points(group="wagate.engines"):
            if ep.name == name:
                factory: EngineFactory = ep.load()
                return factory
        raise UnknownEngineError(f"unknown engine {name!r}; known: {', '.join(known_engines())}")
    module_name, _, attribute = target.partition(":")
    loaded: EngineFactory = getattr(importlib.import_module(module_name), attribute)
    return loaded


def create_engine(name: str, context: EngineContext, *, hosted: bool = False) -> Engine:
    """The engine ``name``, in this process, or in a supervised engine host when ``hosted``."""
    factory = _load(name)  # an unknown name fails here, not in the host
    if hosted:
        from wagate.engines.host.engine import HostedEngine

        return HostedEngine(name, context)
    return factory(context)
