"""Properties of phone-number and JID parsing (Hypothesis): whatever a client
types, the answer is a well-formed JID or ``InvalidJidError``, never anything else."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from wagate.jid import (
    GROUP_SERVER,
    LID_SERVER,
    USER_SERVER,
    InvalidJidError,
    normalize_number,
    number_of,
    to_jid,
    user_jid,
)

WELL_FORMED = re.compile(
    rf"^([0-9]{{6,15}}@{re.escape(USER_SERVER)}"
    rf"|[0-9]{{6,20}}(-[0-9]{{6,12}})?@{re.escape(GROUP_SERVER)}"
    rf"|[0-9]{{1,20}}@{LID_SERVER})$"
)

ascii_numbers = st.text(alphabet="0123456789", min_size=6, max_size=15)
SEPARATORS = [" ", "-", "(", ")", ".", "\t"]
# Digits of other scripts: fullwidth, Arabic-Indic, Devanagari, Bengali...
foreign_digits = st.characters(categories=["Nd"]).filter(lambda c: c not in "0123456789")


@st.composite
def typed_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A valid number as a person might type it, and its digits."""
    digits = draw(ascii_numbers)
    typed = ""
    for digit in digits:
        typed += draw(st.sampled_from(["", "", "", *SEPARATORS])) + digit
    plus = draw(st.sampled_from(["", "+"]))
    return f"{plus}{typed}", digits


@settings(max_examples=300)
@given(typed_numbers())
def test_a_typed_number_normalizes_to_its_digits(typed: tuple[str, str]) -> None:
    text, digits = typed
    assert normalize_number(text) == digits
    assert to_jid(text) == f"{digits}@{USER_SERVER}"
    assert number_of(user_jid(text)) == digits


@settings(max_examples=300)
@given(ascii_numbers, st.integers(min_value=0, max_value=14), foreign_digits)
@example("15550001234", 0, "\uff11")  # fullwidth one
@example("15550001234", 5, "\u0661")  # Arabic-Indic one
def test_a_digit_of_another_script_is_never_a_phone_number(
    digits: str, position: int, foreign: str
) -> None:
    text = digits[:position] + foreign + digits[position:]
    for parse in (normalize_number, to_jid):
        try:
            parse(text)
        except InvalidJidError:
            continue
        raise AssertionError(f"{text!r} was accepted by {parse.__name__}")


@settings(max_examples=500)
@given(st.text(max_size=40))
@example("1" * 16)
@example("+")
@example("120363000000000000@g.us")
@example("15550001234:12@s.whatsapp.net")
@example("١٥٥٥٠٠٠١٢٣٤@lid")  # Arabic-Indic digits
def test_any_text_is_a_well_formed_jid_or_invalid(text: str) -> None:
    try:
        jid = to_jid(text)
    except InvalidJidError:
        return
    assert WELL_FORMED.fullmatch(jid), jid
    assert to_jid(jid) == jid  # parsing what we produce changes nothing


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_normalized_numbers_are_ascii_digits_only(text: str) -> None:
    try:
        number = normalize_number(text)
    except InvalidJidError:
        return
    assert re.fullmatch(r"[0-9]{6,15}", number), number
