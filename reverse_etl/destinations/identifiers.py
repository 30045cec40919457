"""Normalizing and hashing personal identifiers the way each ad platform matches them.

Ad platforms never receive plain emails or phone numbers: each wants a value normalized by its own rules, then
hashed. A value normalized the wrong way hashes to a digest that matches nobody, silently, so every rule here
follows the vendor's documentation or official SDK and is pinned by golden tests:

- Google Ads Customer Match: trim and lower-case; for gmail.com / googlemail.com remove every '.' of the local
  part (plus tags are kept); phones in E.164 with the '+'; first and last names trimmed and lower-cased; then
  the SHA-256 hex digest.
- Meta Custom Audiences (as the facebook-business SDK does it): trim whitespace and dots at both ends and
  lower-case; phones keep digits only (country code included, no '+'); names, city and state keep the letters
  a-z only; zip codes keep the part before a '-'; country the first two letters; then the SHA-256 hex digest.
- The Trade Desk (UID2 rules): trim and lower-case; for gmail.com remove '.' and everything from a '+' in the
  local part; phones in E.164; then the Base64 of the SHA-256 digest.

A value that cannot be normalized (no '@', a phone that is not a valid number) raises InvalidIdentifier, which
destinations report as a per-record reject naming the problem instead of sending a useless hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import phonenumbers

from reverse_etl.destinations.base import BatchResult, Record, RecordResult

Person = TypeVar("Person")

EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
SHA256_BASE64 = re.compile(r"^[A-Za-z0-9+/]{43}=$")
WHITESPACE = " \t\r\n\x00\x0b"


class InvalidIdentifier(ValueError):
    """A value that cannot be normalized into the identifier a destination expects."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_base64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def is_sha256_hex(value: object) -> bool:
    return isinstance(value, str) and SHA256_HEX.match(value) is not None


def is_sha256_base64(value: object) -> bool:
    return isinstance(value, str) and SHA256_BASE64.match(value) is not None


def _email_parts(value: str, strip: str = WHITESPACE) -> tuple[str, str]:
    email = value.strip(strip).lower()
    if not EMAIL.match(email):
        raise InvalidIdentifier(f"not an email address: {value!r}")
    local, domain = email.rsplit("@", 1)
    return local, domain


def e164_phone(value: str, default_region: str | None = None) -> str:
    """The phone number in E.164 ('+' and digits). A national number needs `default_region` (ISO country)."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidIdentifier(f"not a phone number: {value!r} ({error})") from error
    # Possible (the right length for its country), as the platforms check it: they hash and try to match
    # rather than consult numbering plans, so a number the plans do not know yet is still worth sending.
    if not phonenumbers.is_possible_number(number) or not number.national_number:
        raise InvalidIdentifier(f"not a valid phone number: {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Google Ads Customer Match


def google_email(value: str) -> str:
    local, domain = _email_parts(value)
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def google_phone(value: str, default_region: str | None = None) -> str:
    return e164_phone(value, default_region)


def google_name(value: str) -> str:
    name = value.strip().lower()
    if not name:
        raise InvalidIdentifier("empty name")
    return name


# Meta Custom Audiences


def meta_email(value: str) -> str:
    local, domain = _email_parts(value, strip=WHITESPACE + ".")
    return f"{local}@{domain}"


def meta_phone(value: str, default_region: str | None = None) -> str:
    """Digits only, country code first: Meta's own rule, applied to the E.164 form so national numbers match."""
    return e164_phone(value, default_region).lstrip("+")


def meta_letters(value: str) -> str:
    """First and last name, city, state: lower-case letters a-z only."""
    letters = re.sub(r"[^a-z]", "", value.strip(WHITESPACE + ".").lower())
    if not letters:
        raise InvalidIdentifier(f"no letters a-z in {value!r}")
    return letters


def meta_zip(value: str) -> str:
    zip_code = value.strip(WHITESPACE + ".").lower().split("-")[0]
    if not zip_code:
        raise InvalidIdentifier(f"empty zip code: {value!r}")
    return zip_code


def meta_country(value: str) -> str:
    country = re.sub(r"[^a-z]", "", value.strip().lower())[:2]
    if len(country) != 2:
        raise InvalidIdentifier(f"not a two-letter country code: {value!r}")
    return country


# The Trade Desk (UID2 normalization)


def ttd_email(value: str) -> str:
    local, domain = _email_parts(value)
    if domain == "gmail.com":
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise InvalidIdentifier(f"nothing left of the gmail.com address {value!r} after normalization")
    return f"{local}@{domain}"


def ttd_phone(value: str, default_region: str | None = None) -> str:
    return e164_phone(value, default_region)


# Audience rows


def identifier_values(value: object, column: str, limit: int) -> list[str]:
    """The values of one identifier column of an audience row: a list (DuckDB / PostgreSQL arrays) or a string
    holding one value or several separated by ';' or ','. Empty entries are dropped, order is kept, duplicates
    removed; more than `limit` values raise InvalidIdentifier naming the column."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[object] = list(value.replace(";", ",").split(","))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidIdentifier(
            f"column {column} must be a list or a ';'-separated string, got {type(value).__name__}"
        )
    values: list[str] = []
    for item in items:
        if item is None:
            continue
        if not isinstance(item, str):
            raise InvalidIdentifier(f"column {column} holds a {type(item).__name__}, expected text: {item!r}")
        text = item.strip()
        if text and text not in values:
            values.append(text)
    if len(values) > limit:
        raise InvalidIdentifier(
            f"column {column} holds {len(values)} values; at most {limit} are sent per person"
        )
    return values


def people_of(
    records: Sequence[Record],
    from_fields: Callable[[Any], Person],
    from_destination_id: Callable[[str], Person],
) -> tuple[list[tuple[Record, Person]], BatchResult]:
    """Each record with its hashed identifiers: from its fields, or for a row that left the model from the
    destination id it was added with. Rows that cannot be normalized are rejected, naming the value."""
    sendable: list[tuple[Record, Person]] = []
    rejected = BatchResult()
    for record in records:
        try:
            if record.fields:
                person = from_fields(record.fields)
            elif record.destination_id:
                person = from_destination_id(record.destination_id)
            else:
                raise InvalidIdentifier("a removed row without the identifiers it was added with")
        except InvalidIdentifier as error:
            rejected.results.append(RecordResult(record.key, ok=False, error=f"invalid identifier: {error}"))
            continue
        sendable.append((record, person))
    return sendable, rejected


def hashed_contacts(
    fields: Any,
    email: Callable[[str], str],
    phone: Callable[[str, str | None], str],
    default_region: str | None,
    most: int,
    vendor: str,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A row's emails and phones, each normalized and hashed by the vendor's functions, duplicates dropped. The
    row's `country` (else `default_region`) reads national phone numbers. Raises InvalidIdentifier when a value
    cannot be normalized or the row has neither."""
    emails = [email(value) for value in identifier_values(fields.get("emails"), "emails", most)]
    country = fields.get("country")
    region = country.strip().upper() if isinstance(country, str) and country.strip() else default_region
    phones = [phone(value, region) for value in identifier_values(fields.get("phones"), "phones", most)]
    if not emails and not phones:
        raise InvalidIdentifier(f"no email and no phone: {vendor} matches people on at least one of them")
    return tuple(dict.fromkeys(emails)), tuple(dict.fromkeys(phones))
