"""Fuzzy matching in `cdp demo`: the demo data gets offline records, the demo's run turns matching on, and it
reports how many customers the fuzzy links merged."""

from __future__ import annotations

from typing import Any

import yaml

from reverse_etl.project import Target, project_dir
from reverse_etl.warehouse import Warehouse

DEMO_OFFLINE_SHARE = 0.1


def demo_matching_vars() -> dict[str, Any]:
    """The project's vars.cdp_matching, switched on (passed to dbt as --vars for the demo's build)."""
    project = yaml.safe_load((project_dir() / "dbt_project.yml").read_text()) or {}
    return {**((project.get("vars") or {}).get("cdp_matching") or {}), "enabled": True}


def fuzzy_merges(target: Target) -> str:
    """One line: the customers whose records a fuzzy link joined (a fuzzy_match group beside another
    identifier), and the offline records resolved through one."""
    warehouse = Warehouse(target)
    try:
        merged = warehouse.query(
            "select count(distinct fuzzy.customer_id) from identity.identity_graph as fuzzy "
            "where fuzzy.identifier_type = 'fuzzy_match' and exists (select 1 from identity.identity_graph as other "
            "where other.customer_id = fuzzy.customer_id and other.identifier_type <> 'fuzzy_match')"
        )[0][0]
        offline = warehouse.query(
            "select count(*) from identity.identity_records where is_resolved and matched_on_identifier_type = 'fuzzy_match'"
        )[0][0]
    finally:
        warehouse.close()
    return (
        f"fuzzy matching merged records into {merged:,} customers "
        f"({offline:,} records resolved through a fuzzy link alone)"
    )
