"""JSON for the sandbox's values: what it keeps on disk and what crosses its socket.

Dataclasses travel tagged with their class name and are rebuilt only from a
fixed list of known classes, so a peer can never make us build anything else.
Fields still at their default are left out, which keeps the state file small.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

_classes: dict[str, type[Any]] = {}
_enums: dict[str, type[enum.Enum]] = {}

_TYPE = "$t"
_BYTES = "$bytes"
_DATETIME = "$dt"
_ENUM = "$enum"
_TUPLE = "$tuple"
_SET = "$set"


class CodecError(ValueError):
    """The data does not describe a value we know how to build."""


def register(types: Iterable[type[Any]]) -> None:
    for cls in types:
        if isinstance(cls, type) and issubclass(cls, enum.Enum):
            _enums[cls.__name__] = cls
        elif dataclasses.is_dataclass(cls):
            _classes[cls.__name__] = cls
        else:
            raise TypeError(f"{cls!r} is neither a dataclass nor an enum")


def encode(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, enum.Enum):
            return {_ENUM: type(value).__name__, "value": value.value}
        return value
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, enum.Enum):
        return {_ENUM: type(value).__name__, "value": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value)
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, tuple):
        return {_TUPLE: [encode(item) for item in value]}
    if isinstance(value, set | frozenset):
        return {_SET: [encode(item) for item in sorted(value)]}
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _encode_dataclass(value: Any) -> dict[str, Any]:
    name = type(value).__name__
    if _classes.get(name) is not type(value):
        raise TypeError(f"dataclass {name} is not registered with the codec")
    encoded: dict[str, Any] = {_TYPE: name}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if field.default is not dataclasses.MISSING and item == field.default:
            continue
        encoded[field.name] = encode(item)
    return encoded


def decode(data: Any) -> Any:
    try:
        return _decode(data)
    except CodecError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise CodecError(f"malformed value: {exc}") from exc


def _decode(data: Any) -> Any:
    if isinstance(data, list):
        return [_decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    if _TYPE in data:
        cls = _classes.get(data[_TYPE])
        if cls is None:
            raise CodecError(f"unknown type {data[_TYPE]!r}")
        return cls(**{key: _decode(item) for key, item in data.items() if key != _TYPE})
    if _BYTES in data:
        return base64.b64decode(data[_BYTES], validate=True)
    if _DATETIME in data:
        return datetime.fromisoformat(data[_DATETIME])
    if _ENUM in data:
        enum_cls = _enums.get(data[_ENUM])
        if enum_cls is None:
            raise CodecError(f"unknown enum {data[_ENUM]!r}")
        return enum_cls(data["value"])
    if _TUPLE in data:
        return tuple(_decode(item) for item in data[_TUPLE])
    if _SET in data:
        return {_decode(item) for item in data[_SET]}
    return {key: _decode(item) for key, item in data.items()}
