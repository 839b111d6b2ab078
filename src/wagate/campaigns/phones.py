"""Numbers as people write them → the JID the send path uses (``jid.py``)."""

from __future__ import annotations

from wagate.jid import InvalidJidError, user_jid


class InvalidPhoneError(ValueError):
    pass


def normalize(raw: str, region: str) -> tuple[str, str]:
    """``"(555) 000-0001"`` in region US → ``("15550000001", "15550000001@s.whatsapp.net")``.

    A number with ``+`` (or ``00``) is international; one without is read in
    ``region`` first, then as international digits."""
    import phonenumbers  # with the first number read, not at start (1 MB)

    text = raw.strip()
    if not text:
        raise InvalidPhoneError("phone is empty")
    candidates = [(text, None)] if text.startswith("+") else [(text, region), (f"+{text}", None)]
    for candidate, in_region in candidates:
        try:
            parsed = phonenumbers.parse(candidate, in_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            digits = f"{parsed.country_code}{parsed.national_number}"
            try:
                return digits, user_jid(digits)
            except InvalidJidError as exc:
                raise InvalidPhoneError(str(exc)) from None
    raise InvalidPhoneError(f"{text!r} is not a phone number (default region {region})")


def e164(digits: str) -> str:
    return f"+{digits}"
