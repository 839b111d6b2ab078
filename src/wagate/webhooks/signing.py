"""Webhook bodies and their signatures.

Two signature schemes ride on every delivery:

* the SAK one (``X-Webhook-Signature: sha256=<hex>``), whose documented verify
  snippet signs ``JSON.stringify(req.body)``, i.e. the body *after* a JavaScript
  parse and re-serialise. It only verifies if that round trip gives back our
  exact bytes, which is why :func:`encode_body` writes JSON the way JavaScript
  does rather than the way :func:`json.dumps` does;
* Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``),
  which signs the raw bytes and needs no such care.

Secrets: :func:`generate_secret` gives ``whsec_`` + base64 of 32 random bytes.
The SAK scheme keys the HMAC with the secret string as UTF-8 (what its snippet
does with the ``X-Webhook-Secret`` header); Standard Webhooks keys it with the
base64-decoded part after ``whsec_``, as its libraries do. A secret without the
prefix (one a user chose) is used as raw UTF-8 for both, because such a secret
is rarely valid base64; receivers using an official Standard Webhooks library
need a ``whsec_`` secret, which is what we generate.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's marker, not a secret
DEFAULT_TOLERANCE_SECONDS = 5 * 60

# JavaScript numbers are doubles: beyond this an integer may not survive JSON.parse.
MAX_SAFE_INTEGER = 2**53 - 1
# ECMAScript "array index" keys (canonical decimal, below 2**32 - 1) are listed first,
# in numeric order, by every JavaScript object, whatever order they were written in.
_ARRAY_INDEX_LIMIT = 2**32 - 1
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


class PayloadEncodingError(ValueError):
    """The payload holds a value that JSON in JavaScript cannot carry faithfully."""


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """Serialise a webhook payload to compact UTF-8 JSON that is a fixed point of
    JavaScript's ``JSON.stringify(JSON.parse(body))``.

    What that takes, and what is done where JavaScript would change a value:

    * strings are escaped exactly as ``JSON.stringify`` escapes them (``"``, ``\\``,
      control characters; U+2028/U+2029, DEL and all other characters are written
      as UTF-8). Python strings may hold surrogate code points; they are read as
      JavaScript would read the same UTF-16: a high+low pair is the one character
      it spells, and a lone surrogate is written as a lowercase ``\\udxxx`` escape
      (what Node's well-formed ``JSON.stringify`` writes), so the body is always
      valid UTF-8;
    * integers beyond +/-(2**53 - 1) are refused: a double cannot hold them, so
      a JavaScript receiver would read another number. Pass such ids as strings;
    * floats are written as ``Number.prototype.toString`` writes them (``1e+21``,
      ``1e-7``, ``0.000001``, ``123`` for ``123.0``, shortest round-trip digits);
      ``-0.0`` is written ``0``, as JavaScript does; NaN and infinities are refused;
    * key order is kept, except that keys which are JavaScript array indices
      (``"0"``, ``"17"``...) come first in numeric order, because a JavaScript
      object always lists them so. Keys must be strings;
    * two keys that are one string to JavaScript (see surrogates above) are refused;
    * only ``None``, ``bool``, ``int``, ``float``, ``str``, mappings, lists and
      tuples are accepted; anything else, or a cycle, raises
      :class:`PayloadEncodingError`.
    """
    parts: list[str] = []
    _encode_value(payload, parts, set())
    return "".join(parts).encode("utf-8")


def _encode_value(value: Any, parts: list[str], active: set[int]) -> None:
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_encode_string(value))
    elif isinstance(value, int):
        parts.append(_encode_int(value))
    elif isinstance(value, float):
        parts.append(js_number_to_string(value))
    elif isinstance(value, Mapping | list | tuple):
        marker = id(value)
        if marker in active:
            raise PayloadEncodingError("the payload refers to itself")
        active.add(marker)
        if isinstance(value, Mapping):
            _encode_mapping(value, parts, active)
        else:
            _encode_array(value, parts, active)
        active.discard(marker)
    else:
        raise PayloadEncodingError(f"cannot encode a {type(value).__name__} in a webhook body")


def _encode_mapping(value: Mapping[Any, Any], parts: list[str], active: set[int]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise PayloadEncodingError(f"object keys must be strings, not {type(key).__name__}")
    keys = _javascript_key_order(list(value))
    encoded_keys = [_encode_string(key) for key in keys]
    if len(set(encoded_keys)) != len(encoded_keys):
        # Two Python keys that are one JavaScript string (a surrogate pair written
        # as two code points, and the character it spells): JSON.parse would keep one.
        raise PayloadEncodingError("two keys are the same string to JavaScript")
    parts.append("{")
    for position, (key, encoded_key) in enumerate(zip(keys, encoded_keys, strict=True)):
        if position:
            parts.append(",")
        parts.append(encoded_key)
        parts.append(":")
        _encode_value(value[key], parts, active)
    parts.append("}")


def _encode_array(value: list[Any] | tuple[Any, ...], parts: list[str], active: set[int]) -> None:
    parts.append("[")
    for position, item in enumerate(value):
        if position:
            parts.append(",")
        _encode_value(item, parts, active)
    parts.append("]")


def _javascript_key_order(keys: list[str]) -> list[str]:
    indices = [k for k in keys if _ARRAY_INDEX.fullmatch(k) and int(k) < _ARRAY_INDEX_LIMIT]
    if not indices:
        return keys
    index_set = set(indices)
    return sorted(indices, key=int) + [k for k in keys if k not in index_set]


def _encode_string(value: str) -> str:
    # json.dumps(ensure_ascii=False) escapes exactly the characters JSON.stringify
    # escapes, with the same short forms and lowercase hex; only surrogates differ.
    text = json.dumps(value, ensure_ascii=False)
    if _SURROGATE.search(text) is None:
        return text
    # A UTF-16 round trip joins pairs the way a JavaScript string holds them.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _encode_int(value: int) -> str:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        # int.__repr__, not str(): an IntEnum's str() is its name in some versions.
        return int.__repr__(value)
    raise PayloadEncodingError(
        f"integer {value} is outside JavaScript's safe range (+/-2**53 - 1); send it as a string"
    )


def js_number_to_string(value: float) -> str:
    """Format a finite float exactly as JavaScript's ``Number.prototype.toString``."""
    if not math.isfinite(value):
        raise PayloadEncodingError(f"{value} has no JSON form")
    if value == 0:
        return "0"
    # repr gives the shortest digits that round-trip, the same digits ECMAScript
    # asks for; only the layout around them differs.
    digits_tuple, exponent = _digits_and_exponent(abs(value))
    digits = "".join(map(str, digits_tuple))
    point = exponent + len(digits)  # value = 0.<digits> x 10**point
    digits = digits.rstrip("0")
    count = len(digits)
    sign = "-" if value < 0 else ""
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    shown = point - 1
    mantissa = digits if count == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if shown >= 0 else '-'}{abs(shown)}"


def _digits_and_exponent(value: float) -> tuple[tuple[int, ...], int]:
    parsed = Decimal(repr(value)).as_tuple()
    assert isinstance(parsed.exponent, int)  # finite by the caller's check
    return parsed.digits, parsed.exponent


def generate_secret() -> str:
    """A new endpoint secret usable by both signature schemes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign_sak(body: bytes, secret: str) -> str:
    # hmac.digest: the one-shot C path, no HMAC object per signature.
    digest = hmac.digest(secret.encode("utf-8"), body, "sha256").hex()
    return f"sha256={digest}"


def verify_sak(body: bytes, signature: str, secret: str) -> bool:
    expected = sign_sak(body, secret)
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8"))


def _standard_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("a whsec_ secret must be followed by base64") from exc


def _standard_digest(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.digest(_standard_key(secret), signed, "sha256")
    return base64.b64encode(digest).decode("ascii")


def sign_standard(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The ``webhook-signature`` value of Standard Webhooks: ``v1,<base64>``."""
    return "v1," + _standard_digest(msg_id, timestamp, body, secret)


def verify_standard(
    msg_id: str,
    timestamp: int | str,
    body: bytes,
    signature_header: str,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Check a Standard Webhooks delivery: any ``v1`` signature in the
    space-separated header matches, and the timestamp is within tolerance
    (which is what stops a captured delivery being replayed later)."""
    try:
        seconds = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - seconds) > tolerance_seconds:
        return False
    expected = _standard_digest(msg_id, seconds, body, secret).encode("ascii")
    for candidate in signature_header.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, signature.encode("utf-8")):
            return True
    return False


def build_headers(
    event: str,
    msg_id: str,
    timestamp: int,
    body: bytes,
    secret: str,
    *,
    include_secret_header: bool,
) -> dict[str, str]:
    """All headers of one delivery attempt. ``X-Webhook-Secret`` sends the secret
    itself, as the SAK reference does (so clients written against it work); a
    webhook can turn it off, since anyone who sees one request can then forge
    others, and receivers should verify with the secret they stored."""
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Event": event,
        "X-Webhook-Signature": sign_sak(body, secret),
    }
    if include_secret_header:
        headers["X-Webhook-Secret"] = secret
    headers["webhook-id"] = msg_id
    headers["webhook-timestamp"] = str(timestamp)
    headers["webhook-signature"] = sign_standard(msg_id, timestamp, body, secret)
    return headers
