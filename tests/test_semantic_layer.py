"""What BI users get: every mart column described, `dbt docs generate` working, dashboards declared as
exposures, and semantic models and metrics that validate in `dbt parse` and add up to the marts' figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Warehouse, new_duckdb_warehouse

METRICS = {
    "customers": "simple",
    "known_customers": "simple",
    "revenue": "simple",
    "completed_orders": "simple",
    "average_order_value": "ratio",
    "buying_customers": "simple",
    "active_customers": "simple",
    "active_customers_30d": "cumulative",
    "segment_size": "simple",
    "segment_entries": "simple",
}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`dbt parse` in-process (it validates the semantic layer); its manifest and semantic manifest."""
    folder = tmp_path_factory.mktemp("parsed")
    new_duckdb_warehouse(folder).dbt("parse", "--target-path", str(folder / "target"))
    return {
        "manifest": json.loads((folder / "target" / "manifest.json").read_text()),
        "semantic": json.loads((folder / "target" / "semantic_manifest.json").read_text()),
    }


def measures_by_name(semantic: dict) -> dict[str, tuple[dict, dict]]:
    return {
        measure["name"]: (measure, model)
        for model in semantic["semantic_models"]
        for measure in model["measures"]
    }


def test_parse_declares_the_metrics_on_semantic_models_of_the_marts(parsed: dict) -> None:
    manifest, semantic = parsed["manifest"], parsed["semantic"]
    metrics = {metric["name"]: metric for metric in manifest["metrics"].values()}
    assert {name: metrics[name]["type"] for name in METRICS if name in metrics} == METRICS
    measures = measures_by_name(semantic)
    for metric in semantic["metrics"]:
        for measure in metric["type_params"]["input_measures"]:
            _, model = measures[measure["name"]]
            assert model["node_relation"]["schema_name"] in {"marts", "segments"}, metric["name"]
    time_spines = semantic["project_configuration"]["time_spines"]
    assert [
        (spine["node_relation"]["alias"], spine["primary_column"]["time_granularity"])
        for spine in time_spines
    ] == [("time_spine_days", "day")]


def test_dashboards_are_exposures_on_marts_and_metrics(parsed: dict) -> None:
    manifest = parsed["manifest"]
    dashboards = [exposure for exposure in manifest["exposures"].values() if exposure["type"] == "dashboard"]
    assert len(dashboards) >= 4
    used_metrics = set()
    for dashboard in dashboards:
        assert dashboard["description"] and dashboard["owner"]["email"], dashboard["name"]
        nodes = dashboard["depends_on"]["nodes"]
        assert any(node in manifest["nodes"] for node in nodes), dashboard["name"]
        for node in nodes:
            assert node in manifest["nodes"] or node in manifest["metrics"], (dashboard["name"], node)
        used_metrics.update(node.split(".")[-1] for node in nodes if node.startswith("metric."))
    assert {"customers", "revenue", "active_customers", "segment_size"} <= used_metrics


@pytest.fixture(scope="module")
def documented(built_duckdb: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt docs generate` in-process on the built demo warehouse."""
    target = tmp_path_factory.mktemp("docs") / "target"
    built_duckdb.dbt("docs", "generate", "--target-path", str(target))
    return target


def test_docs_generate_describes_every_column_of_every_mart(documented: Path) -> None:
    manifest = json.loads((documented / "manifest.json").read_text())
    catalog = json.loads((documented / "catalog.json").read_text())
    assert (documented / "index.html").stat().st_size > 0
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    ]
    assert {"customers", "customer_traits", "households", "orders", "events"} <= {
        node["name"] for node in marts
    }
    for node in marts:
        assert node["description"].strip(), node["name"]
        # The columns the warehouse really has (catalog) are exactly the documented ones, each described.
        built = {name.lower() for name in catalog["nodes"][node["unique_id"]]["columns"]}
        documented_columns = {name: column["description"] for name, column in node["columns"].items()}
        assert built == set(documented_columns), node["name"]
        assert [name for name, text in documented_columns.items() if not text.strip()] == [], node["name"]


def aggregate(measure: dict) -> str:
    expression = measure.get("expr") or measure["name"]
    if measure["agg"] == "count_distinct":
        return f"count(distinct {expression})"
    return f"{measure['agg']}({expression})"


def measure_value(warehouse: Warehouse, semantic: dict, metric_name: str, group_by: str | None = None):
    """Evaluate a simple metric's measure over its whole semantic model, as MetricFlow would without filters."""
    metric = next(metric for metric in semantic["metrics"] if metric["name"] == metric_name)
    measure, model = measures_by_name(semantic)[metric["type_params"]["measure"]["name"]]
    relation = f"{model['node_relation']['schema_name']}.{model['node_relation']['alias']}"
    if group_by:
        return dict(
            warehouse.query(f"select {group_by}, {aggregate(measure)} from {relation} group by {group_by}")
        )
    return warehouse.scalar(f"select {aggregate(measure)} from {relation}")


def test_metrics_add_up_to_the_marts(built_warehouse: Warehouse, parsed: dict) -> None:
    semantic = parsed["semantic"]
    warehouse = built_warehouse
    # Completed orders straight from staging: every order except those of forgotten customers.
    completed_orders = """
        from intermediate.int_orders_converted as orders
        left join identity.identity_records as records
          on records.source_table = 'stg_shop__orders' and records.record_id = orders.order_id
        where orders.is_completed
          and (records.customer_id is null
               or records.customer_id not in (select customer_id from privacy.suppressed_customers))
    """
    expected = {
        "customers": warehouse.scalar("select count(*) from marts.customers"),
        "known_customers": warehouse.scalar("select count(*) from marts.customers where is_known"),
        "revenue": float(warehouse.scalar(f"select sum(orders.reporting_order_amount) {completed_orders}")),
        "completed_orders": warehouse.scalar(f"select count(*) {completed_orders}"),
        "buying_customers": warehouse.scalar(
            f"select count(distinct records.customer_id) {completed_orders}"
        ),
        "active_customers": warehouse.scalar(
            """
            select count(distinct records.customer_id) from identity.identity_records as records
            join marts.customers as customers on customers.customer_id = records.customer_id
            where records.source_table in ('stg_segment__tracks', 'stg_segment__pages', 'stg_app__events')
            """
        ),
    }
    for name, figure in expected.items():
        assert figure > 0, name
        assert float(measure_value(warehouse, semantic, name)) == pytest.approx(float(figure)), name

    sizes = measure_value(warehouse, semantic, "segment_size", group_by="segment_name")
    declared = dict(
        warehouse.query("select segment_name, count(*) from segments.seg_declared group by segment_name")
    )
    assert "seg_high_value" in sizes
    for segment, size in sizes.items():
        members = declared.get(segment)
        if members is None:
            members = warehouse.scalar(f"select count(*) from segments.{segment}")
        assert size == members, segment
