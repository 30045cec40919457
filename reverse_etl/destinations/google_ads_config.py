"""A sync's Google Ads Customer Match options, validated at start-up: the customer and user list (ids of
digits), the consent every upload declares, the API version, the default region for phone numbers and the batch
size. The access and developer tokens come from the environment and never show in the config's repr."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.destinations.base import SecretLookup
from reverse_etl.errors import ConfigError

API_VERSION = "v26"
# Rows per batch: Google suggests about 10,000 identifiers per addOperations call; a row has one or a few.
MAX_ROWS = 10_000
CONSENT_VALUES = {"GRANTED", "DENIED"}
DIGITS = re.compile(r"^\d+$")


def _digits(options: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    value = options.get(key)
    if value is None and not required:
        return None
    text = str(value if value is not None else "").replace("-", "").strip()
    if not DIGITS.match(text):
        raise ConfigError(
            f"google_ads option {key} must be a Google Ads id of digits (dashes allowed, e.g. 123-456-7890), got {value!r}"
        )
    return text


@dataclass(frozen=True)
class GoogleAdsConfig:
    base_url: str
    api_version: str
    customer_id: str
    user_list_id: str
    login_customer_id: str | None
    ad_user_data: str
    ad_personalization: str
    default_region: str | None
    batch_size: int
    token: str = field(repr=False)
    developer_token: str = field(repr=False)

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> GoogleAdsConfig:
        customer_id = _digits(options, "customer_id")
        user_list_id = _digits(options, "user_list_id")
        login_customer_id = _digits(options, "login_customer_id", required=False)
        consent = options.get("consent")
        if not isinstance(consent, Mapping):
            raise ConfigError(
                "google_ads option consent is required: {ad_user_data: GRANTED|DENIED, ad_personalization: GRANTED|DENIED}"
            )
        values = {}
        for key in ("ad_user_data", "ad_personalization"):
            value = str(consent.get(key, "")).upper()
            if value not in CONSENT_VALUES:
                raise ConfigError(
                    f"google_ads option consent.{key} must be GRANTED or DENIED, got {consent.get(key)!r}"
                )
            values[key] = value
        unknown = sorted(set(consent) - {"ad_user_data", "ad_personalization"})
        if unknown:
            raise ConfigError(
                f"google_ads option consent has unknown key(s) {', '.join(map(str, unknown))}; use ad_user_data, ad_personalization"
            )
        api_version = str(options.get("api_version", API_VERSION))
        if not re.match(r"^v\d+$", api_version):
            raise ConfigError(f"google_ads option api_version must look like v26, got {api_version!r}")
        region = options.get("default_region")
        if region is not None and not re.match(r"^[A-Za-z]{2}$", str(region)):
            raise ConfigError(
                f"google_ads option default_region must be a two-letter country code (e.g. US), got {region!r}"
            )
        batch_size = options.get("batch_size", MAX_ROWS)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_ROWS:
            raise ConfigError(f"google_ads option batch_size must be 1..{MAX_ROWS}, got {batch_size!r}")
        return cls(
            base_url=str(options.get("base_url", "https://googleads.googleapis.com")).rstrip("/"),
            api_version=api_version,
            customer_id=customer_id or "",
            user_list_id=user_list_id or "",
            login_customer_id=login_customer_id,
            ad_user_data=values["ad_user_data"],
            ad_personalization=values["ad_personalization"],
            default_region=str(region).upper() if region is not None else None,
            batch_size=batch_size,
            token=secret(str(options.get("token_env", "GOOGLE_ADS_ACCESS_TOKEN"))),
            developer_token=secret(str(options.get("developer_token_env", "GOOGLE_ADS_DEVELOPER_TOKEN"))),
        )
