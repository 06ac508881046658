"""The host's one phone string ⇄ Xero's ``PhoneCountryCode`` / ``PhoneAreaCode`` / ``PhoneNumber``.

Parsing and formatting go through ``phonenumbers`` (Google's libphonenumber), with the
organisation's country as the default region, for numbers it knows to be valid, so "09 555 0101" in a New Zealand organisation is
sent as country 64, area 9, number "555 0101" and read back as "09 555 0101". Two phone strings
are the same phone when they parse to the same number (:func:`phone_key`), so a host phone pushed
and read back is never taken for a change, whatever punctuation it was typed with. A phone that
is not a valid number (an extension note, a number without its area code) is sent as typed (in
``PhoneNumber``) and read back as typed.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

CACHED = 65536
"""Phones parsed per worker process, kept: a worker reads the same contacts run after run."""


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


@lru_cache(maxsize=CACHED)
def phone_key(text: str, region: str | None) -> str:
    """What makes two phone strings the same phone: E.164 when it parses, else the text with
    its whitespace collapsed."""
    text = " ".join(text.split())
    if not text:
        return ""
    number = _parse(text, region)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164) if number is not None else text


@lru_cache(maxsize=CACHED)
def _to_xero(text: str, region: str | None) -> tuple[str, str, str]:
    fields = _split(text, region)
    return fields["PhoneCountryCode"], fields["PhoneAreaCode"], fields["PhoneNumber"]


def to_xero(text: str, region: str | None) -> dict[str, str]:
    """Xero's phone fields for a host phone string (all empty for an empty phone)."""
    country, area, number = _to_xero(" ".join(text.split()), region)
    return {"PhoneCountryCode": country, "PhoneAreaCode": area, "PhoneNumber": number}


def _split(text: str, region: str | None) -> dict[str, str]:
    if not text:
        return {"PhoneCountryCode": "", "PhoneAreaCode": "", "PhoneNumber": ""}
    number = _parse(text, region)
    if number is None:
        return {"PhoneCountryCode": "", "PhoneAreaCode": "", "PhoneNumber": text}
    national = str(number.national_number)
    if number.italian_leading_zero:
        national = "0" * (number.number_of_leading_zeros or 1) + national
    area_length = phonenumbers.length_of_national_destination_code(number)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    rest = international.split(" ", 1)[1] if " " in international else national
    area = national[:area_length] if area_length else ""
    if area and rest.startswith(area + " "):
        subscriber = rest[len(area) + 1 :]
    else:
        area, subscriber = "", rest
    if number.extension:
        subscriber = f"{subscriber.split(' ext.')[0]} ext. {number.extension}"
    return {"PhoneCountryCode": str(number.country_code), "PhoneAreaCode": area, "PhoneNumber": subscriber}


@lru_cache(maxsize=CACHED)
def from_xero(country: str, area: str, number: str, region: str | None) -> str:
    """The host phone string for Xero's phone fields: the national form for a number of the
    organisation's own country, the international form for others, Xero's text as it is when it
    does not parse."""
    country, area, number = (" ".join(str(part or "").split()) for part in (country, area, number))
    if not number and not area:
        return ""
    country_digits = country.lstrip("+")
    spoken = " ".join(part for part in (area, number) if part)
    text = f"+{country_digits} {spoken}" if country_digits.isdigit() else spoken
    parsed = _parse(text, region)
    if parsed is None:
        return " ".join(part for part in (country, area, number) if part)
    own = phonenumbers.country_code_for_region((region or "").upper()) if region else 0
    style = PhoneNumberFormat.NATIONAL if parsed.country_code == own else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, style)
