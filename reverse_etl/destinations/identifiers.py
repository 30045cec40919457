"""Normalizing and hashing personal identifiers the way each ad platform matches them.

Ad platforms never receive plain emails or phone numbers: each wants a value normalized by its own written rule,
then hashed. A value normalized the wrong way hashes to a digest that matches nobody, silently, so every rule here
follows the vendor's documentation and is pinned by golden tests (tests/test_identifiers.py):

- Google Ads Customer Match: emails lower-cased with all whitespace removed (leading, trailing and in between),
  and for gmail.com / googlemail.com every '.' before the '@' removed (plus tags are kept); phones in E.164 with
  the '+'; first and last names lower-cased with extra spaces removed; then the SHA-256 hex digest.
- Meta Custom Audiences: emails trimmed of leading and trailing whitespace and lower-cased, nothing else; phones
  digits only with the country code; names and city a-z only; US states as their two-letter code, other states
  a-z only; zip codes without whitespace (US: the first 5 digits, UK: area, district and sector); country the
  ISO two-letter code; all lower-case, then the SHA-256 hex digest.
- The Trade Desk (UID2 rules): emails trimmed of leading and trailing spaces and lower-cased, and for gmail.com
  every '.' and a '+' with everything after it removed before the '@'; phones in E.164; then the Base64 of the
  SHA-256 digest.

A value that is not an identifier after its vendor's normalization (not an email address, a phone that is not a
possible number) raises InvalidIdentifier. Destinations leave that one value out, count it under its reason in
BatchResult.dropped, and still send the row's other identifiers; only a row left with nothing to match on is
rejected, naming the values.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import phonenumbers

from reverse_etl.destinations.base import BatchResult, Record, RecordResult

Person = TypeVar("Person")

EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
SHA256_BASE64 = re.compile(r"^[A-Za-z0-9+/]{43}=$")
SEPARATORS = re.compile(r"[,;\n]")
NOT_LETTERS = re.compile(r"[^a-z]")
# US states, DC and territories by name: Meta wants the two-letter ANSI (USPS) code of a US state.
US_STATES = dict(
    line.split(":")
    for line in (
        "alabama:al alaska:ak arizona:az arkansas:ar california:ca colorado:co connecticut:ct delaware:de "
        "districtofcolumbia:dc florida:fl georgia:ga hawaii:hi idaho:id illinois:il indiana:in iowa:ia kansas:ks "
        "kentucky:ky louisiana:la maine:me maryland:md massachusetts:ma michigan:mi minnesota:mn mississippi:ms "
        "missouri:mo montana:mt nebraska:ne nevada:nv newhampshire:nh newjersey:nj newmexico:nm newyork:ny "
        "northcarolina:nc northdakota:nd ohio:oh oklahoma:ok oregon:or pennsylvania:pa rhodeisland:ri "
        "southcarolina:sc southdakota:sd tennessee:tn texas:tx utah:ut vermont:vt virginia:va washington:wa "
        "westvirginia:wv wisconsin:wi wyoming:wy americansamoa:as guam:gu northernmarianaislands:mp "
        "puertorico:pr virginislands:vi"
    ).split()
)

# One identifier value left out of a row: (reason it is counted under, message naming the value).
Dropped = tuple[str, str]


class InvalidIdentifier(ValueError):
    """A value that is not the identifier a destination expects once normalized. The message names the value;
    `problem` is the short, value-free reason it is counted under (e.g. "not an address")."""

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_base64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def is_sha256_hex(value: object) -> bool:
    return isinstance(value, str) and SHA256_HEX.match(value) is not None


def is_sha256_base64(value: object) -> bool:
    return isinstance(value, str) and SHA256_BASE64.match(value) is not None


def _email_parts(email: str, value: str) -> tuple[str, str]:
    """The local part and domain of an email already normalized by a vendor's rule; `value` is the raw value."""
    if not EMAIL.match(email):
        raise InvalidIdentifier(f"not an email address: {value!r}", "not an address")
    local, domain = email.rsplit("@", 1)
    return local, domain


def e164_phone(value: str, default_region: str | None = None) -> str:
    """The phone number in E.164 ('+' and digits). A national number needs `default_region` (ISO country)."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as error:
        problem = (
            "no country code"
            if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
            else "not a phone number"
        )
        raise InvalidIdentifier(f"not a phone number: {value!r} ({error})", problem) from error
    # Possible (the right length for its country), as the platforms check it: they hash and try to match
    # rather than consult numbering plans, so a number the plans do not know yet is still worth sending.
    if not phonenumbers.is_possible_number(number) or not number.national_number:
        raise InvalidIdentifier(f"not a valid phone number: {value!r}", "not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Google Ads Customer Match


def google_email(value: str) -> str:
    # Customer Match: lower-case and remove whitespace, leading, trailing and in between; in gmail.com and
    # googlemail.com addresses remove every '.' before the domain (a '+' tag stays).
    local, domain = _email_parts("".join(value.split()).lower(), value)
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
        if not local:
            raise InvalidIdentifier(f"not an email address: {value!r}", "not an address")
    return f"{local}@{domain}"


def google_phone(value: str, default_region: str | None = None) -> str:
    return e164_phone(value, default_region)


def google_name(value: str) -> str:
    # Customer Match names: lower-case all characters, remove extra spaces before, after and in between.
    name = " ".join(value.split()).lower()
    if not name:
        raise InvalidIdentifier("empty name", "empty")
    return name


# Meta Custom Audiences


def meta_email(value: str) -> str:
    # Custom Audiences EMAIL: trim leading and trailing whitespace and lower-case, nothing more. Inner whitespace
    # or a trailing dot is therefore not removed, and such a value is not an address.
    local, domain = _email_parts(value.strip().lower(), value)
    return f"{local}@{domain}"


def meta_phone(value: str, default_region: str | None = None) -> str:
    """Digits only, country code first: Meta's own rule, applied to the E.164 form so national numbers match."""
    return e164_phone(value, default_region).lstrip("+")


def meta_letters(value: str) -> str:
    """FN, LN and CT: a-z only, lower-case, no punctuation, special characters or whitespace."""
    letters = NOT_LETTERS.sub("", value.lower())
    if not letters:
        raise InvalidIdentifier(f"no letters a-z in {value!r}", "no letters a-z")
    return letters


def meta_state(value: str, country: str | None) -> str:
    """ST: a US state as its two-letter ANSI code, lower-case (a state of another country: a-z only). Without a
    country, a value naming a US state is taken as one."""
    letters = meta_letters(value)
    if country in (None, "us"):
        if letters in US_STATES.values():
            return letters
        if letters in US_STATES:
            return US_STATES[letters]
        if country == "us":
            raise InvalidIdentifier(f"not a US state: {value!r}", "not a US state")
    return letters


def meta_zip(value: str, country: str | None) -> str:
    """ZIP: lower-case without whitespace; in the US the first 5 digits, in the UK area, district and sector
    (the outward code and the first character of the inward code)."""
    zip_code = "".join(value.split()).lower()
    if country == "us" or (country is None and re.fullmatch(r"\d{5}(-?\d{4})?", zip_code)):
        zip_code = zip_code.split("-")[0][:5]
        if not re.fullmatch(r"\d{5}", zip_code):
            raise InvalidIdentifier(f"not a US zip code: {value!r}", "not a US zip code")
    elif country == "gb" and len(zip_code) > 4:
        zip_code = zip_code[:-2]
    if not zip_code:
        raise InvalidIdentifier(f"empty zip code: {value!r}", "empty")
    return zip_code


def meta_country(value: str) -> str:
    country = value.strip().lower()
    if not re.fullmatch(r"[a-z]{2}", country):
        raise InvalidIdentifier(f"not a two-letter country code: {value!r}", "not a two-letter country code")
    return country


# The Trade Desk (UID2 normalization)


def ttd_email(value: str) -> str:
    # UID2: remove leading and trailing spaces, lower-case; in gmail.com addresses only, remove every '.' and a
    # '+' with everything after it before the '@'. Inner whitespace is not removed: such a value is no address.
    local, domain = _email_parts(value.strip().lower(), value)
    if domain == "gmail.com":
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise InvalidIdentifier(
                f"nothing left of the gmail.com address {value!r} after normalization", "not an address"
            )
    return f"{local}@{domain}"


def ttd_phone(value: str, default_region: str | None = None) -> str:
    return e164_phone(value, default_region)


# Audience rows


def identifier_values(value: object, column: str, dropped: list[Dropped]) -> list[str]:
    """The values of one identifier column of an audience row: a list (DuckDB / PostgreSQL arrays) or a string
    holding one value or several separated by ',', ';' or newlines. Empty entries are dropped, order is kept,
    duplicates removed; a value that is not text is added to `dropped`."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[object] = list(SEPARATORS.split(value))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        dropped.append(
            (
                f"{column}: not a list or text",
                f"column {column} must be a list or a ';'-separated string, got {type(value).__name__}",
            )
        )
        return []
    values: list[str] = []
    for item in items:
        if item is None:
            continue
        if not isinstance(item, str):
            dropped.append(
                (
                    f"{column}: not text",
                    f"column {column} holds a {type(item).__name__}, expected text: {item!r}",
                )
            )
            continue
        text = item.strip()
        if text and text not in values:
            values.append(text)
    return values


def normalized(
    values: Sequence[str], normalize: Callable[[str], str], field: str, dropped: list[Dropped]
) -> list[str]:
    """Each value through `normalize` (which also hashes), duplicates removed; a value it refuses is added to
    `dropped` under "<field>: <problem>" and left out."""
    result: list[str] = []
    for value in values:
        try:
            result.append(normalize(value))
        except InvalidIdentifier as error:
            dropped.append((f"{field}: {error.problem}", str(error)))
    return list(dict.fromkeys(result))


def capped(values: list[str], limit: int, reason: str, dropped: list[Dropped]) -> list[str]:
    """The first `limit` values; each one beyond is added to `dropped` under `reason`."""
    dropped += [(reason, reason) for _ in values[limit:]]
    return values[:limit]


def nothing_to_send(what: str, dropped: list[Dropped]) -> InvalidIdentifier:
    """The reject of a row left with nothing to match on, naming the values that were dropped."""
    named = "; ".join(dict.fromkeys(message for _, message in dropped))
    return InvalidIdentifier(f"no valid {what}" + (f": {named}" if named else ""))


def merged(outcome: BatchResult, part: BatchResult) -> None:
    """Add `part`'s results and dropped counts to `outcome` (one batch sent in several parts)."""
    outcome.results += part.results
    for reason, count in part.dropped.items():
        outcome.dropped[reason] = outcome.dropped.get(reason, 0) + count


def people_of(
    records: Sequence[Record],
    from_fields: Callable[[Mapping[str, Any], list[Dropped]], Person],
    from_destination_id: Callable[[str], Person],
) -> tuple[list[tuple[Record, Person]], BatchResult]:
    """Each record with its hashed identifiers: from its fields, or for a row that left the model from the
    destination id it was added with. The result holds the rejects of rows with nothing to send and, in
    `dropped`, how many values were left out, by reason (those of rejected rows included)."""
    sendable: list[tuple[Record, Person]] = []
    outcome = BatchResult()
    counts: Counter[str] = Counter()
    for record in records:
        dropped: list[Dropped] = []
        try:
            if record.fields:
                person = from_fields(record.fields, dropped)
            elif record.destination_id:
                person = from_destination_id(record.destination_id)
            else:
                raise InvalidIdentifier("a removed row without the identifiers it was added with")
        except InvalidIdentifier as error:
            outcome.results.append(RecordResult(record.key, ok=False, error=f"invalid identifier: {error}"))
            continue
        finally:
            counts.update(reason for reason, _ in dropped)
        sendable.append((record, person))
    outcome.dropped = dict(counts)
    return sendable, outcome


def hashed_contacts(
    fields: Mapping[str, Any],
    email: Callable[[str], str],
    phone: Callable[[str, str | None], str],
    default_region: str | None,
    most: int,
    dropped: list[Dropped],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A row's valid emails and phones, each normalized and hashed by the vendor's functions, duplicates removed,
    at most `most` of each. The row's `country` (else `default_region`) reads national phone numbers. Values
    left out are added to `dropped`; a row with no valid email and no phone raises InvalidIdentifier."""
    emails = normalized(identifier_values(fields.get("emails"), "emails", dropped), email, "email", dropped)
    country = fields.get("country")
    region = country.strip().upper() if isinstance(country, str) and country.strip() else default_region
    phones = normalized(
        identifier_values(fields.get("phones"), "phones", dropped),
        lambda value: phone(value, region),
        "phone",
        dropped,
    )
    emails = capped(emails, most, f"emails: more than {most} per person", dropped)
    phones = capped(phones, most, f"phones: more than {most} per person", dropped)
    if not emails and not phones:
        raise nothing_to_send("email or phone", dropped)
    return tuple(emails), tuple(phones)
