"""Webhook bodies and signatures, checked in Python and against a real Node receiver."""

from __future__ import annotations

import base64
import json
import math
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wagate.webhooks.signing import (
    MAX_SAFE_INTEGER,
    PayloadEncodingError,
    build_headers,
    encode_body,
    generate_secret,
    js_number_to_string,
    sign_sak,
    sign_standard,
    verify_sak,
    verify_standard,
)

NODE_HELPER = Path(__file__).parent / "node" / "verify_webhooks.js"
TIMESTAMP = 1_734_600_000


# Payloads a WhatsApp gateway really sends, and the characters and numbers that
# trip up naive JSON: each must survive JSON.stringify(JSON.parse(body)) unchanged.
NASTY_PAYLOADS: dict[str, dict[str, Any]] = {
    "plain": {
        "event": "message.received",
        "sessionId": "57a4bc81-0696-4e8d-b6fd-96641a7c3718",
        "from": "918484862949@s.whatsapp.net",
        "messageId": "3EB0C767D26A1D2E5F12",
        "text": "Hello group!",
        "type": "conversation",
    },
    "non_ascii": {"text": "नमस्ते, ¿qué tal? Привет 你好 مرحبا", "name": "Zoë Ñúñez"},
    "emoji": {"text": "👍🏽 👨‍👩‍👧‍👦 🇮🇳 ❤️", "reaction": "😂"},
    "line_separators": {"text": "a\u2028b\u2029c", "key\u2028": "\u2028"},
    "control_chars": {"text": "".join(chr(c) for c in range(0x20)) + "\x7f\x85\u200b\ufeff"},
    "quotes_backslashes": {"text": "He said \"hi\" \\ C:\\path\\ \\u0041 </script> 'single'"},
    "whitespace": {"text": "tab\there\nnew line\r\n", "empty": ""},
    "numbers": {
        "zero": 0,
        "negative": -17,
        "max_safe": MAX_SAFE_INTEGER,
        "min_safe": -MAX_SAFE_INTEGER,
        "timestamp_ms": 1_734_600_000_123,
        "latitude": 12.9716,
        "longitude": 77.5946,
        "negative_lat": -33.8688,
        "tiny": 1e-7,
        "small": 0.000001,
        "huge": 1e21,
        "just_below_huge": 1e20,
        "point_one": 0.1,
        "sum": 0.1 + 0.2,
        "integral_float": 123.0,
        "negative_zero": -0.0,
        "denormal": 5e-324,
        "max_float": 1.7976931348623157e308,
        "third": 1 / 3,
    },
    "nested": {
        "message": {
            "media": {"mimetype": "image/jpeg", "size": 48213, "caption": "📷 «caption»"},
            "location": {"degreesLatitude": 12.9716, "degreesLongitude": 77.5946},
            "mentions": ["1@s.whatsapp.net", "2@s.whatsapp.net"],
            "quoted": {"text": None, "flags": [True, False, None, [], {}]},
        },
        "deep": [[[[{"a": [1, [2, [3.5]]]}]]]],
    },
    "numeric_keys": {"b": 1, "10": "ten", "2": "two", "01": "not an index", "-1": "neg", "a": 2},
    "big_index_keys": {"4294967295": "plain key", "4294967294": "last index", "x": 0},
    "surrogates": {
        "pair_as_two_code_points": "\ud83d\ude00",
        "lone_high": "x\ud800y",
        "lone_low": "\udc00",
        "reversed_pair": "\ude00\ud83d",
    },
    "proto_key": {"__proto__": {"polluted": True}, "constructor": "c"},
}


def test_encoding_is_compact_utf8_in_order() -> None:
    body = encode_body({"z": 1, "a": "é", "m": [1, 2]})
    assert body == '{"z":1,"a":"é","m":[1,2]}'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (123.0, "123"),
        (12.9716, "12.9716"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-6, "0.000001"),
        (1.5e-6, "0.0000015"),
        (1e-7, "1e-7"),
        (-1.25e-7, "-1.25e-7"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2.0**53, "9007199254740992"),
    ],
)
def test_floats_are_written_as_javascript_writes_them(value: float, expected: str) -> None:
    assert js_number_to_string(value) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(PayloadEncodingError):
        encode_body({"x": value})


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 10**30])
def test_integers_javascript_cannot_hold_are_refused(value: int) -> None:
    with pytest.raises(PayloadEncodingError, match="as a string"):
        encode_body({"id": value})


@pytest.mark.parametrize(
    "payload",
    [{"x": {1, 2}}, {"x": b"bytes"}, {"x": object()}, {1: "int key"}, {"x": {None: 1}}],
)
def test_values_without_a_json_form_are_refused(payload: dict[Any, Any]) -> None:
    with pytest.raises(PayloadEncodingError):
        encode_body(payload)


def test_cycles_are_refused_but_shared_values_are_not() -> None:
    shared = {"a": 1}
    assert encode_body({"x": shared, "y": [shared, shared]}) == (
        b'{"x":{"a":1},"y":[{"a":1},{"a":1}]}'
    )
    looping: dict[str, Any] = {}
    looping["self"] = looping
    with pytest.raises(PayloadEncodingError, match="itself"):
        encode_body(looping)


def test_array_index_keys_come_first_as_in_javascript() -> None:
    body = encode_body({"b": 1, "10": 2, "2": 3, "01": 4, "4294967295": 5, "4294967294": 6})
    assert body == b'{"2":3,"10":2,"4294967294":6,"b":1,"01":4,"4294967295":5}'


def test_surrogates_become_what_javascript_would_write() -> None:
    body = encode_body({"pair": "\ud83d\ude00", "lone": "a\ud800b", "low": "\udfff"})
    assert body == '{"pair":"😀","lone":"a\\ud800b","low":"\\udfff"}'.encode()
    assert json.loads(body) == {"pair": "😀", "lone": "a\ud800b", "low": "\udfff"}
    with pytest.raises(PayloadEncodingError, match="same string"):
        encode_body({"😀": 1, "\ud83d\ude00": 2})


def test_strings_escape_only_what_javascript_escapes() -> None:
    body = encode_body({"s": '"\\/\b\f\n\r\t\x00\x1f\x7f\u2028</'})
    assert body == '{"s":"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028</"}'.encode()


def test_str_and_int_subclasses_encode_as_their_values() -> None:
    import enum

    class Kind(enum.StrEnum):
        TEXT = "text"

    class Level(enum.IntEnum):
        HIGH = 3

    assert encode_body({"kind": Kind.TEXT, "level": Level.HIGH}) == b'{"kind":"text","level":3}'


@pytest.mark.parametrize("name", sorted(NASTY_PAYLOADS))
def test_python_reads_back_the_same_values(name: str) -> None:
    payload = NASTY_PAYLOADS[name]
    decoded = json.loads(encode_body(payload))
    assert decoded == _as_javascript_sees_it(payload)


def _as_javascript_sees_it(value: Any) -> Any:
    """The value after a trip through JavaScript: surrogate pairs joined."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if isinstance(value, dict):
        return {_as_javascript_sees_it(k): _as_javascript_sees_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_javascript_sees_it(v) for v in value]
    return value


def test_sak_signature_is_sha256_hex_of_the_body() -> None:
    signature = sign_sak(b'{"a":1}', "secret")
    # Computed with `printf '{"a":1}' | openssl dgst -sha256 -hmac secret`.
    assert signature == "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
    assert verify_sak(b'{"a":1}', signature, "secret")
    assert not verify_sak(b'{"a":2}', signature, "secret")
    assert not verify_sak(b'{"a":1}', signature, "other")
    assert not verify_sak(b'{"a":1}', "sha256=é", "secret")


def test_standard_signature_matches_the_published_example() -> None:
    # The example of the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = sign_standard(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}', secret
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_verification() -> None:
    secret = generate_secret()
    body = encode_body(NASTY_PAYLOADS["emoji"])
    signature = sign_standard("msg_1", TIMESTAMP, body, secret)

    assert verify_standard("msg_1", TIMESTAMP, body, signature, secret, now=TIMESTAMP + 10)
    assert verify_standard("msg_1", str(TIMESTAMP), body, signature, secret, now=TIMESTAMP)
    rotated = f"v1,bm90IGl0 {signature} v2,whatever"
    assert verify_standard("msg_1", TIMESTAMP, body, rotated, secret, now=TIMESTAMP)

    assert not verify_standard("msg_2", TIMESTAMP, body, signature, secret, now=TIMESTAMP)
    assert not verify_standard("msg_1", TIMESTAMP, body + b" ", signature, secret, now=TIMESTAMP)
    assert not verify_standard("msg_1", TIMESTAMP, body, signature, "whsec_" + "A" * 44)
    assert not verify_standard("msg_1", "soon", body, signature, secret, now=TIMESTAMP)
    too_late = TIMESTAMP + 301
    assert not verify_standard("msg_1", TIMESTAMP, body, signature, secret, now=too_late)
    assert verify_standard(
        "msg_1", TIMESTAMP, body, signature, secret, now=too_late, tolerance_seconds=600
    )


def test_secrets_without_the_prefix_are_raw_keys_and_bad_base64_is_refused() -> None:
    assert sign_standard("m", 1, b"{}", "plain secret").startswith("v1,")
    with pytest.raises(ValueError, match="base64"):
        sign_standard("m", 1, b"{}", "whsec_not base64!")


def test_generated_secrets_are_32_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert generate_secret() != secret


def test_headers_carry_both_schemes() -> None:
    body = encode_body(NASTY_PAYLOADS["plain"])
    secret = generate_secret()
    headers = build_headers(
        "message.received", "msg_1", TIMESTAMP, body, secret, include_secret_header=False
    )
    assert headers == {
        "Content-Type": "application/json",
        "X-Webhook-Event": "message.received",
        "X-Webhook-Signature": sign_sak(body, secret),
        "webhook-id": "msg_1",
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": sign_standard("msg_1", TIMESTAMP, body, secret),
    }
    with_secret = build_headers(
        "message.received", "msg_1", TIMESTAMP, body, secret, include_secret_header=True
    )
    assert with_secret["X-Webhook-Secret"] == secret


# ---- the Node receiver ----------------------------------------------------


def _run_node(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the JavaScript receiver check needs Node.js")
    completed = subprocess.run(
        [node, str(NODE_HELPER)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    return results


def _delivery(name: str, payload: dict[str, Any], secret: str) -> dict[str, Any]:
    body = encode_body(payload)
    headers = build_headers(
        "message.received", f"msg_{name}", TIMESTAMP, body, secret, include_secret_header=True
    )
    return {
        "name": name,
        "body_b64": base64.b64encode(body).decode(),
        "headers": headers,
        "secret": secret,
    }


def _failures(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if not (r["sak"] and r["standard"] and r["roundtrip"])]


@pytest.mark.parametrize(
    "secret", [generate_secret(), "a user's own secret"], ids=["generated", "user-chosen"]
)
def test_node_receiver_verifies_every_nasty_payload(secret: str) -> None:
    cases = [_delivery(name, payload, secret) for name, payload in NASTY_PAYLOADS.items()]
    results = _run_node(cases)
    assert [r["name"] for r in results] == list(NASTY_PAYLOADS)
    assert _failures(results) == []


def _random_double(rng: random.Random) -> float:
    while True:
        value: float = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value):
            return value


_CHAR_POOL = (
    [chr(c) for c in range(0x00, 0x80)]
    + ["\u2028", "\u2029", "\x85", "\xa0", "é", "ß", "\u200d", "\ufeff", "\uffff", "\ufffd"]
    + ["😀", "🇮🇳", "𝄞", "\U0010ffff", "\ud800", "\udbff", "\udc00", "\udfff"]
)


def _random_string(rng: random.Random) -> str:
    return "".join(rng.choice(_CHAR_POOL) for _ in range(rng.randrange(0, 12)))


def _random_payload(rng: random.Random) -> dict[str, Any]:
    floats = [_random_double(rng) for _ in range(200)]
    floats += [rng.uniform(-180, 180) for _ in range(200)]
    floats += [round(rng.uniform(-90, 90), rng.randrange(1, 9)) for _ in range(200)]
    floats += [rng.random() * 10.0 ** rng.randrange(-30, 30) for _ in range(200)]
    ints = [rng.randrange(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1) for _ in range(200)]
    # Keys as JavaScript holds them, so no two collapse into one.
    strings = {_as_javascript_sees_it(_random_string(rng)): _random_string(rng) for _ in range(200)}
    indexed = {rng.choice(["", "0", "-"]) + str(rng.randrange(2**33)): i for i in range(100)}
    return {"floats": floats, "ints": ints, "strings": strings, "indexed": indexed}


def test_node_receiver_verifies_random_payloads() -> None:
    rng = random.Random(20251219)
    secret = generate_secret()
    cases = [_delivery(f"random_{i}", _random_payload(rng), secret) for i in range(10)]
    results = _run_node(cases)
    assert len(results) == len(cases)
    assert _failures(results) == []
