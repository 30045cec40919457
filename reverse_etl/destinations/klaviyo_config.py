"""Klaviyo's limits, and a sync's Klaviyo options validated at start-up: the action (import or forget), the
identifier profiles are matched on, the list, the dated API revision and how long an import job is polled."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reverse_etl.destinations.base import SecretLookup
from reverse_etl.destinations.urls import url_option
from reverse_etl.errors import ConfigError

DEFAULT_BASE_URL = "https://a.klaviyo.com"
MAX_PROFILES = 10_000
MAX_JOB_BYTES = 5_000_000
MAX_PROFILE_BYTES = 100_000
MAX_LIST_REMOVALS = 1_000
PAGE_SIZE = 100
REVISION = "2026-07-15"
IDENTIFIERS = ("external_id", "email", "phone_number")
FORGET_IDENTIFIERS = ("email", "phone_number")
REVISION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z0-9]+)?$")


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(
            f"klaviyo option {key} must be a number of seconds in {low:g}..{high:g}, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class KlaviyoConfig:
    base_url: str
    api_key: str
    list_id: str | None
    identifier: str
    action: str
    revision: str
    poll_interval: float
    job_timeout: float

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> KlaviyoConfig:
        action = options.get("action", "import")
        if action not in ("import", "forget"):
            raise ConfigError(f"klaviyo option action must be import or forget, got {action!r}")
        identifier = options.get("identifier", "email")
        allowed = FORGET_IDENTIFIERS if action == "forget" else IDENTIFIERS
        if identifier not in allowed:
            raise ConfigError(
                f"klaviyo option identifier must be one of {', '.join(allowed)} for action {action}, got {identifier!r}"
            )
        list_id = options.get("list_id")
        if list_id is not None and (not isinstance(list_id, str) or not list_id.strip()):
            raise ConfigError(
                "klaviyo option list_id must be a Klaviyo list id such as 'Y6nRLr', or be left out"
            )
        revision = str(options.get("revision", REVISION))
        if not REVISION_FORMAT.match(revision):
            raise ConfigError(
                f"klaviyo option revision must be a dated API revision like {REVISION} (YYYY-MM-DD[.suffix]), got {revision!r}"
            )
        base_url = url_option(
            "klaviyo", "base_url", options.get("base_url", DEFAULT_BASE_URL), DEFAULT_BASE_URL
        )
        api_key = secret(str(options.get("api_key_env", "KLAVIYO_API_KEY")))
        return cls(
            base_url=base_url,
            api_key=api_key,
            list_id=list_id.strip() if list_id else None,
            identifier=identifier,
            action=action,
            revision=revision,
            poll_interval=_number(options, "poll_interval_seconds", 2.0, 0.01, 60),
            job_timeout=_number(options, "job_timeout_seconds", 900.0, 0.1, 86_400),
        )
