"""Golden tests for identifier normalization and hashing: each vendor's documented examples and tricky inputs
(Unicode, case, spaces, gmail dots and plus tags, national phone formats)."""

from __future__ import annotations

import pytest

from reverse_etl.destinations import identifiers as ids
from reverse_etl.destinations.identifiers import InvalidIdentifier

# The UID2 documentation's worked examples (normalized value -> SHA-256 hex -> Base64 of the digest bytes).
UID2_EMAIL = (
    "user@example.com",
    "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514",
    "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=",
)
UID2_PHONE = (
    "+12345678901",
    "10e6f0b47054a83359477dcb35231db6de5c69fb1816e1a6b98e192de9e5b9ee",
    "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=",
)


@pytest.mark.parametrize("example", [UID2_EMAIL, UID2_PHONE], ids=["email", "phone"])
def test_documented_digests(example: tuple[str, str, str]) -> None:
    value, hex_digest, base64_digest = example
    assert ids.sha256_hex(value) == hex_digest
    assert ids.sha256_base64(value) == base64_digest
    assert ids.is_sha256_hex(hex_digest) and not ids.is_sha256_hex(hex_digest.upper())
    assert ids.is_sha256_base64(base64_digest) and not ids.is_sha256_base64(hex_digest)


@pytest.mark.parametrize(
    ("raw", "google", "meta", "ttd"),
    [
        ("  User@Example.COM\t", "user@example.com", "user@example.com", "user@example.com"),
        ("Jane.Doe+Shop@Gmail.com", "janedoe+shop@gmail.com", "jane.doe+shop@gmail.com", "janedoe@gmail.com"),
        (
            "jane.doe@googlemail.com",
            "janedoe@googlemail.com",
            "jane.doe@googlemail.com",
            "jane.doe@googlemail.com",
        ),
        (
            "first.last+x@outlook.com",
            "first.last+x@outlook.com",
            "first.last+x@outlook.com",
            "first.last+x@outlook.com",
        ),
        (" .Zoë@Example.de. ", None, "zoë@example.de", None),
        ("ÉLODIE@exemple.fr", "élodie@exemple.fr", "élodie@exemple.fr", "élodie@exemple.fr"),
    ],
)
def test_email_rules_differ_per_vendor(raw: str, google: str | None, meta: str, ttd: str | None) -> None:
    assert ids.meta_email(raw) == meta
    for normalize, expected in ((ids.google_email, google), (ids.ttd_email, ttd)):
        if expected is None:
            with pytest.raises(InvalidIdentifier):
                normalize(raw)
        else:
            assert normalize(raw) == expected


def test_unicode_is_hashed_as_utf8() -> None:
    assert ids.sha256_hex(ids.google_email("ÉLODIE@exemple.fr")) == ids.sha256_hex("élodie@exemple.fr")
    assert ids.sha256_hex("élodie@exemple.fr") != ids.sha256_hex("elodie@exemple.fr")


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+1 (202) 555-0143", None, "+12025550143"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 (0)20 7946 0018", None, "+442079460018"),
        ("030 901820", "DE", "+4930901820"),
        ("01 45 67 89 01", "FR", "+33145678901"),
        ("0033 1 45 67 89 01", "FR", "+33145678901"),
    ],
)
def test_national_phone_formats(raw: str, region: str | None, e164: str) -> None:
    assert ids.google_phone(raw, region) == e164
    assert ids.ttd_phone(raw, region) == e164
    assert ids.meta_phone(raw, region) == e164[1:]


@pytest.mark.parametrize("raw", ["", "12", "not a phone", "+1 555", "0000000000"])
def test_bad_phones_are_refused_with_the_value_named(raw: str) -> None:
    with pytest.raises(InvalidIdentifier, match="phone"):
        ids.google_phone(raw, "US")


@pytest.mark.parametrize("raw", ["", "plainaddress", "a@b", "two@@example.com", "sp ace@example.com"])
def test_bad_emails_are_refused(raw: str) -> None:
    for normalize in (ids.google_email, ids.meta_email, ids.ttd_email):
        with pytest.raises(InvalidIdentifier, match="email"):
            normalize(raw)


def test_gmail_address_reduced_to_nothing_is_refused() -> None:
    with pytest.raises(InvalidIdentifier):
        ids.ttd_email("+tag@gmail.com")


def test_meta_names_zip_and_country_follow_the_sdk() -> None:
    assert ids.meta_letters("  O'Brien-Smith ") == "obriensmith"
    assert ids.meta_letters("José") == "jos"  # the SDK keeps the letters a-z only
    assert ids.meta_zip("94103-1234") == "94103"
    assert ids.meta_country(" us ") == "us"
    with pytest.raises(InvalidIdentifier):
        ids.meta_letters("123")
    with pytest.raises(InvalidIdentifier):
        ids.meta_country("1")
    assert ids.google_name("  Zoë ") == "zoë"
