"""URL options are checked when a destination is made: one line naming the option and the fix, never a
requests MissingSchema / InvalidSchema traceback in the middle of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import new_duckdb_warehouse
from reverse_etl.destinations import REGISTRY
from reverse_etl.destinations.base import Mode
from reverse_etl.destinations.urls import url_option
from reverse_etl.errors import ConfigError
from reverse_etl.http import HttpClient
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse

# Destination -> (its URL option, the other options it needs to get as far as checking it).
URL_OPTIONS = {
    "hubspot": ("base_url", {}),
    "mailchimp": ("base_url", {"list_id": "a1b2c3"}),
    "klaviyo": ("base_url", {"list_id": "SbxLst"}),
    "salesforce": ("instance_url", {"external_id_field": "Customer_Id__c"}),
    "braze": ("rest_endpoint", {}),
    "webhook": ("url", {}),
}
BAD = [
    ("${CDP_UNSET_URL}", "environment variable CDP_UNSET_URL is not set"),
    ("localhost:8080", "needs an http:// or https:// scheme, got 'localhost:8080'"),
    ("ftp://x", "needs an http:// or https:// scheme, got 'ftp://x'"),
    ("https:///path", "has no host"),
    ("http://x:port", "is not a valid URL"),
]


@pytest.mark.parametrize("name", sorted(URL_OPTIONS))
@pytest.mark.parametrize(("value", "complaint"), BAD)
def test_every_destination_checks_its_url_option(name: str, value: str, complaint: str) -> None:
    option, others = URL_OPTIONS[name]
    with pytest.raises(ConfigError) as raised:
        REGISTRY[name]({**others, option: value}, lambda variable: "key-us1", HttpClient())
    message = str(raised.value)
    assert message.startswith(f"{name} option {option} (meta.cdp_sync.options.{option})")
    assert complaint in message and "\n" not in message


def test_vendor_apis_need_https_except_on_loopback_and_the_webhook_may_use_http() -> None:
    with pytest.raises(ConfigError, match="must use https"):
        url_option("hubspot", "base_url", "http://api.hubapi.com", "https://api.hubapi.com")
    assert url_option("hubspot", "base_url", "http://127.0.0.1:8080/", "x") == "http://127.0.0.1:8080"
    assert url_option("hubspot", "base_url", "http://[::1]:8080", "x") == "http://[::1]:8080"
    assert (
        url_option("webhook", "url", "http://hooks.internal/cdp", "x", secure=False)
        == "http://hooks.internal/cdp"
    )


def test_an_unset_url_variable_stops_the_run_with_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync YAML names ${CDP_HUBSPOT_BASE_URL}; with the variable unset the run stops before sending."""
    monkeypatch.delenv("CDP_HUBSPOT_BASE_URL", raising=False)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "token")
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.crm as select 'cus_1' as customer_id, 'a@example.org' as email"
    )
    sync = SyncConfig(
        name="crm_contacts",
        model="crm",
        relation=Relation(None, "activation", "crm"),
        destination="hubspot",
        mode=Mode.UPSERT,
        primary_key="customer_id",
        fields={"email": "email"},
        options={"base_url": "${CDP_HUBSPOT_BASE_URL}"},
    )
    engine = Warehouse(warehouse.target)
    try:
        with pytest.raises(ConfigError, match="environment variable CDP_HUBSPOT_BASE_URL is not set"):
            run_sync(engine, sync)
    finally:
        engine.close()
