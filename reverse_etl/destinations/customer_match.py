"""The UserIdentifiers of one Google Ads Customer Match member: which fields of a row become which identifier,
normalized and hashed by Google's rules (reverse_etl.destinations.identifiers), and what is left out under
Customer Match's rules (an incomplete address, identifiers beyond 20 per member). reverse_etl.destinations.google_ads
sends them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reverse_etl.destinations.identifiers import (
    Dropped,
    google_email,
    google_name,
    google_phone,
    identifier_values,
    is_sha256_hex,
    normalized,
    nothing_to_send,
    sha256_hex,
)

MAX_IDENTIFIERS_PER_OPERATION = 20
LIST_FIELDS = ("emails", "phones")
ADDRESS_FIELDS = ("first_name", "last_name", "country_code", "postal_code")
# How a missing address part is named in the reason its other parts are counted under, in this order.
ADDRESS_LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "postal_code": "postal code",
    "country_code": "country",
}
FIELDS = frozenset(LIST_FIELDS + ADDRESS_FIELDS)
COUNTRY = re.compile(r"^[A-Z]{2}$")


def _hashed(value: str, normalize: Any) -> str:
    """A value already hashed (64 hex digits) is sent as it is (lower-cased); anything else is normalized, then hashed."""
    if is_sha256_hex(value.lower()):
        return value.lower()
    return sha256_hex(normalize(value))


def _address(fields: Mapping[str, Any], dropped: list[Dropped]) -> dict[str, Any] | None:
    """The row's AddressInfo identifier. Customer Match takes an address only with first name, last name, country
    code and postal code together: with one missing the address is not sent, and each part the row has is counted
    in `dropped`."""
    parts = {name: str(fields.get(name) or "").strip() for name in ADDRESS_FIELDS}
    if not any(parts.values()):
        return None
    if parts["country_code"] and not COUNTRY.match(parts["country_code"].upper()):
        dropped.append(
            (
                "country_code: not a two-letter code",
                f"not a two-letter country code: {parts['country_code']!r}",
            )
        )
        parts["country_code"] = ""
    missing = [name for name in ADDRESS_FIELDS if not parts[name]]
    if missing:
        reason = "no " + "/".join(ADDRESS_LABELS[name] for name in ADDRESS_LABELS if name in missing)
        message = (
            "an address identifier needs first_name, last_name, country_code and postal_code; "
            f"missing {', '.join(missing)}"
        )
        dropped += [(f"google_ads {name}: {reason}", message) for name in ADDRESS_FIELDS if parts[name]]
        return None
    return {
        "addressInfo": {
            "hashedFirstName": _hashed(parts["first_name"], google_name),
            "hashedLastName": _hashed(parts["last_name"], google_name),
            "countryCode": parts["country_code"].upper(),
            "postalCode": parts["postal_code"],
        }
    }


def user_identifiers(
    fields: Mapping[str, Any], default_region: str | None = None, dropped: list[Dropped] | None = None
) -> list[dict[str, Any]]:
    """The UserIdentifiers of one row (one person), deduplicated, in a stable order: emails, phones, address.
    Values left out go to `dropped`; raises InvalidIdentifier when none is left."""
    dropped = [] if dropped is None else dropped
    emails = identifier_values(fields.get("emails"), "emails", dropped)
    phones = identifier_values(fields.get("phones"), "phones", dropped)
    identifiers: list[dict[str, Any]] = [
        {"hashedEmail": value}
        for value in normalized(emails, lambda v: _hashed(v, google_email), "email", dropped)
    ]
    identifiers += [
        {"hashedPhoneNumber": value}
        for value in normalized(
            phones, lambda v: _hashed(v, lambda text: google_phone(text, default_region)), "phone", dropped
        )
    ]
    address = _address(fields, dropped)
    if address is not None:
        identifiers.append(address)
    if not identifiers:
        raise nothing_to_send("email, phone or address", dropped)
    beyond = identifiers[MAX_IDENTIFIERS_PER_OPERATION:]
    if beyond:
        reason = f"google_ads: more than {MAX_IDENTIFIERS_PER_OPERATION} identifiers per person"
        dropped += [(reason, reason) for _ in beyond]
    return identifiers[:MAX_IDENTIFIERS_PER_OPERATION]
