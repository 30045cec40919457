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
        # Google removes whitespace in between too; Meta and UID2 only trim, so the value is no address for them.
        ("jane doe@Example.com", "janedoe@example.com", None, None),
        ("J. Doe@GMAIL.com", "jdoe@gmail.com", None, None),
        # No rule removes a trailing dot, and an address does not end with one.
        ("jane@example.com.", None, None, None),
        (" .Zoë@Example.de. ", None, None, None),
        ("ÉLODIE@exemple.fr", "élodie@exemple.fr", "élodie@exemple.fr", "élodie@exemple.fr"),
    ],
)
def test_email_rules_differ_per_vendor(
    raw: str, google: str | None, meta: str | None, ttd: str | None
) -> None:
    for normalize, expected in ((ids.google_email, google), (ids.meta_email, meta), (ids.ttd_email, ttd)):
        if expected is None:
            with pytest.raises(InvalidIdentifier, match="not an email address") as refused:
                normalize(raw)
            assert refused.value.problem == "not an address"
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


@pytest.mark.parametrize(
    "raw", ["", "plainaddress", "a@b", "two@@example.com", "a@example..com", "a@b@example.com"]
)
def test_bad_emails_are_refused(raw: str) -> None:
    for normalize in (ids.google_email, ids.meta_email, ids.ttd_email):
        with pytest.raises(InvalidIdentifier, match="email"):
            normalize(raw)


def test_gmail_address_reduced_to_nothing_is_refused() -> None:
    with pytest.raises(InvalidIdentifier):
        ids.ttd_email("+tag@gmail.com")


def test_meta_names_city_state_zip_and_country_follow_metas_rules() -> None:
    assert ids.meta_letters("  O'Brien-Smith ") == "obriensmith"
    assert ids.meta_letters("José") == "jos"  # a-z only
    assert ids.meta_letters("San Francisco, CA.") == "sanfranciscoca"
    # ST: a US state as its two-letter ANSI code, lower-case; elsewhere a-z only.
    assert ids.meta_state("California", "us") == ids.meta_state(" CA ", "us") == "ca"
    assert ids.meta_state("New York", None) == ids.meta_state("n.y.", None) == "ny"
    assert ids.meta_state("Nova Scotia", "ca") == "novascotia" and ids.meta_state("Bayern", None) == "bayern"
    with pytest.raises(InvalidIdentifier, match="not a US state") as not_a_state:
        ids.meta_state("Calif", "us")
    assert not_a_state.value.problem == "not a US state"
    # ZIP: no whitespace, lower-case; US the first 5 digits, UK area/district/sector.
    assert ids.meta_zip("94103-1234", "us") == ids.meta_zip("941031234", None) == "94103"
    assert ids.meta_zip("SW1A 1AA", "gb") == "sw1a1"
    assert ids.meta_zip(" 75 008 ", "fr") == "75008"
    with pytest.raises(InvalidIdentifier, match="not a US zip code"):
        ids.meta_zip("2134", "us")
    assert ids.meta_country(" us ") == "us"
    for bad in ("123", ""):
        with pytest.raises(InvalidIdentifier):
            ids.meta_letters(bad)
    for bad in ("1", "usa", "AUT"):
        with pytest.raises(InvalidIdentifier, match="two-letter"):
            ids.meta_country(bad)
    assert ids.google_name("  Zoë ") == "zoë" and ids.google_name(" Mary   Ann\t") == "mary ann"


def test_an_audience_row_keeps_its_valid_values_and_counts_the_others() -> None:
    dropped: list[ids.Dropped] = []
    emails, phones = ids.hashed_contacts(
        {
            "emails": ["ok@example.org", "not-an-email", 7],
            "phones": "+1 555; (650) 555-0101; +1 650 555 0102",
        },
        lambda value: ids.sha256_hex(ids.meta_email(value)),
        lambda value, region: ids.sha256_hex(ids.meta_phone(value, region)),
        None,
        10,
        dropped,
    )
    assert emails == (ids.sha256_hex("ok@example.org"),) and phones == (ids.sha256_hex("16505550102"),)
    assert [reason for reason, _ in dropped] == [
        "emails: not text",
        "email: not an address",
        "phone: not a phone number",
        "phone: no country code",
    ]
    assert "'not-an-email'" in dropped[1][1] and "'+1 555'" in dropped[2][1]
    # Beyond the per-person limit, values are left out and counted one by one.
    many: list[ids.Dropped] = []
    emails, _ = ids.hashed_contacts(
        {"emails": [f"e{n}@example.org" for n in range(12)]}, ids.meta_email, ids.meta_phone, None, 10, many
    )
    reason = "emails: more than 10 per person"
    assert len(emails) == 10 and many == [(reason, reason), (reason, reason)]
    with pytest.raises(InvalidIdentifier, match="no valid email or phone: not an email address: 'x'"):
        ids.hashed_contacts({"emails": "x"}, ids.meta_email, ids.meta_phone, None, 10, [])
