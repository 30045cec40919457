"""What the Google Ads fake accepts as one Customer Match UserIdentifier (exactly one of hashedEmail,
hashedPhoneNumber or a complete addressInfo; hashes as lower-case 64-digit SHA-256 hex; no mobile or third-party
ids on a contact-info list), and the 64-bit key a member is stored under."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from reverse_etl.sandbox.google_ads_errors import ads_error, bad_json

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
IDENTIFIER_FIELDS = {"hashedEmail", "hashedPhoneNumber", "addressInfo", "mobileId", "thirdPartyUserId"}
ADDRESS_FIELDS = ("hashedFirstName", "hashedLastName", "countryCode", "postalCode")


def member_key(identifier: Mapping[str, Any]) -> int:
    """The 64-bit key the fake stores for one UserIdentifier (a collision needs ~4 billion members)."""
    if "hashedEmail" in identifier:
        text = f"e:{identifier['hashedEmail']}"
    elif "hashedPhoneNumber" in identifier:
        text = f"p:{identifier['hashedPhoneNumber']}"
    else:
        address = identifier["addressInfo"]
        text = "a:" + ":".join(str(address.get(name, "")) for name in ADDRESS_FIELDS)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def identifier_errors(identifier: Any, path: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int | None]:
    """(errors, member key) of one UserIdentifier; a body that breaks the proto raises at once."""
    where = "".join(
        f"{e['fieldName']}[{e['index']}]." if "index" in e else f"{e['fieldName']}." for e in path
    )
    if not isinstance(identifier, dict):
        raise bad_json(where.rstrip("."), "A UserIdentifier must be an object.")
    unknown = set(identifier) - IDENTIFIER_FIELDS - {"userIdentifierSource"}
    if unknown:
        raise bad_json(where.rstrip("."), f"Unknown name {sorted(unknown)[0]!r}: Cannot find field.")
    present = [name for name in identifier if name in IDENTIFIER_FIELDS]
    if len(present) > 1:
        raise bad_json(
            where.rstrip("."),
            f"Oneof field 'identifier' is already set. Cannot set '{present[1]}'. One identifier per UserIdentifier.",
        )
    if not present:
        return [
            ads_error(
                "offlineUserDataJobError",
                "MISSING_USER_IDENTIFIER",
                "The user identifier is missing valid data.",
                path,
            )
        ], None
    name = present[0]
    if name in ("mobileId", "thirdPartyUserId"):
        return [
            ads_error(
                "offlineUserDataJobError",
                "INCOMPATIBLE_UPLOAD_KEY_TYPE",
                "Upload data is not compatible with the upload key type of the associated user list.",
                [*path, {"fieldName": name}],
            )
        ], None
    errors: list[dict[str, Any]] = []
    if name == "addressInfo":
        address = identifier[name]
        if not isinstance(address, dict):
            raise bad_json(where + "address_info", "addressInfo must be an object.")
        for part in ADDRESS_FIELDS:
            value = address.get(part)
            if not value:
                errors.append(
                    ads_error(
                        "fieldError",
                        "REQUIRED",
                        "The required field was not present.",
                        [*path, {"fieldName": "address_info"}, {"fieldName": part}],
                    )
                )
            elif part.startswith("hashed") and not SHA256_HEX.match(str(value)):
                errors.append(
                    ads_error(
                        "offlineUserDataJobError",
                        "INVALID_SHA256_FORMAT",
                        "The SHA256 encoded value is malformed.",
                        [*path, {"fieldName": "address_info"}, {"fieldName": part}],
                    )
                )
            elif part == "countryCode" and not COUNTRY.match(str(value)):
                errors.append(
                    ads_error(
                        "offlineUserDataJobError",
                        "INVALID_COUNTRY_CODE",
                        "The country code is invalid.",
                        [*path, {"fieldName": "address_info"}, {"fieldName": part}],
                    )
                )
    elif not SHA256_HEX.match(str(identifier[name])):
        errors.append(
            ads_error(
                "offlineUserDataJobError",
                "INVALID_SHA256_FORMAT",
                "The SHA256 encoded value is malformed.",
                [*path, {"fieldName": name}],
            )
        )
    return errors, (None if errors else member_key(identifier))
