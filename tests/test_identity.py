"""Identity resolution: quality against the generator's ground truth, junk guards, limits, stable ids and
config errors, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from conftest import NO_UPSTREAM_TESTS, ROOT, Warehouse, copy_of_built, private_warehouse
from identity_queries import (
    components,
    customer_of,
    customers,
    last_component_run,
    two_customers_with_email_and_phone,
)
from reverse_etl.errors import DbtError

RAW_TABLE_OF = {
    "stg_segment__identifies": "identifies",
    "stg_segment__tracks": "tracks",
    "stg_segment__pages": "pages",
    "stg_app__events": "app_events",
    "stg_crm__contacts": "crm_contacts",
    "stg_shop__orders": "orders",
    "stg_esp__email_events": "email_events",
    "stg_dmp__cookie_syncs": "cookie_syncs",
    "stg_support__tickets": "support_tickets",
    "stg_privacy__consents": "consents",
    "stg_privacy__requests": "privacy_requests",
}
JUNK_VALUES = [
    "test@test.com",
    "noreply@example.com",
    "no-reply@shop.example.com",
    "-1",
    "null",
    "undefined",
    "0",
    "anonymousid",
]


def record_assignments(warehouse: Warehouse) -> list[tuple[str, str]]:
    """(customer_id, true person) for every record the identity graph placed."""
    cases = " ".join(f"when '{model}' then '{table}'" for model, table in RAW_TABLE_OF.items())
    return warehouse.query(
        f"""
        select records.customer_id, truth.person_id
        from identity.identity_records as records
        inner join ground_truth.record_people as truth
            on truth.record_id = records.record_id
            and truth.source_table = case records.source_table {cases} end
        """
    )


def pairs(count: int) -> int:
    return count * (count - 1) // 2


def quality(assignments: list[tuple[str, str]]) -> dict[str, float]:
    together = Counter(assignments)
    predicted = Counter(customer for customer, _ in assignments)
    actual = Counter(person for _, person in assignments)
    true_pairs = sum(pairs(n) for n in together.values())
    precision = true_pairs / max(1, sum(pairs(n) for n in predicted.values()))
    recall = true_pairs / max(1, sum(pairs(n) for n in actual.values()))
    # B-cubed: per record, the share of its cluster that is its person, and of its person in its cluster.
    b3_precision = sum(n * n / predicted[c] for (c, _), n in together.items()) / len(assignments)
    b3_recall = sum(n * n / actual[p] for (_, p), n in together.items()) / len(assignments)
    return {
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "bcubed_precision": b3_precision,
        "bcubed_recall": b3_recall,
        "bcubed_f1": 2 * b3_precision * b3_recall / (b3_precision + b3_recall),
    }


def test_quality_against_ground_truth(built_warehouse: Warehouse) -> None:
    assignments = record_assignments(built_warehouse)
    records = built_warehouse.scalar("select count(*) from identity.identity_records")
    assert len(assignments) == records > 1000
    scores = quality(assignments)
    print(
        f"identity quality on {built_warehouse.kind}: " + ", ".join(f"{k}={v:.4f}" for k, v in scores.items())
    )
    assert scores["pairwise_precision"] >= 0.99
    assert scores["pairwise_recall"] >= 0.95


def test_no_junk_value_joins_anyone(built_warehouse: Warehouse) -> None:
    placeholders = ", ".join(f"'{value}'" for value in JUNK_VALUES)
    in_graph = built_warehouse.query(
        f"select identifier_type, identifier_value from identity.identity_graph where lower(identifier_value) in ({placeholders})"
    )
    assert in_graph == []
    excluded = {
        value
        for (value,) in built_warehouse.query(
            "select lower(identifier_value) from identity.identity_excluded_identifiers where exclusion_reason = 'blocklisted'"
        )
    }
    assert {"test@test.com", "noreply@example.com"} <= excluded


def test_every_customer_respects_the_limits(built_warehouse: Warehouse) -> None:
    worst = built_warehouse.query(
        """
        select identifier_type, max(identifiers) from (
            select customer_id, identifier_type, count(*) as identifiers
            from identity.identity_graph group by customer_id, identifier_type
        ) as per_customer
        group by identifier_type
        """
    )
    limits = {"user_id": 1, "email": 5, "phone": 5, "loyalty_card_id": 3}
    for identifier_type, most in worst:
        if identifier_type in limits:
            assert most <= limits[identifier_type], identifier_type


def test_health_reports_sizes_and_rounds(built_warehouse: Warehouse) -> None:
    health = dict(built_warehouse.query("select measure, measure_value from identity.identity_health"))
    customers, records, unresolved = built_warehouse.query(
        "select count(distinct customer_id), count(*), sum(case when is_resolved then 0 else 1 end)"
        " from identity.identity_records"
    )[0]
    assert (health["customers"], health["records"], health["records_without_usable_identifier"]) == (
        customers,
        records,
        unresolved,
    )
    assert unresolved > 0
    identifiers, largest = built_warehouse.query(
        "select sum(identifiers), max(identifiers) from"
        " (select count(*) as identifiers from identity.identity_graph group by customer_id) as clusters"
    )[0]
    assert (health["identifiers"], health["largest_cluster_identifiers"]) == (identifiers, largest)
    assert 1 <= health["last_run_rounds"] <= 15
    assert health["excluded_blocklisted"] > 0
    sizes = sum(health[key] for key in health if key.startswith("clusters_of_"))
    assert sizes == built_warehouse.scalar("select count(distinct customer_id) from identity.identity_graph")


def test_link_counts_and_source_lists_equal_a_direct_count(built_warehouse: Warehouse) -> None:
    """Each value's distinct other identifiers (hub detection counts each pair of values on a record once, for
    both its values) and its node's sources (listed once each, in ascending order), recounted here from the
    validated rows."""
    rows = built_warehouse.query(
        "select distinct source_table, record_id, identifier_type, identifier_value"
        " from intermediate.int_identifiers_validated"
        " where exclusion_reason is null and suppressing_request_id is null"
    )
    by_record: dict[tuple[str, str], set[tuple[str, str]]] = {}
    sources: dict[tuple[str, str], set[str]] = {}
    for source_table, record_id, identifier_type, identifier_value in rows:
        by_record.setdefault((source_table, record_id), set()).add((identifier_type, identifier_value))
        sources.setdefault((identifier_type, identifier_value), set()).add(source_table)
    linked: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for values in by_record.values():
        for value in values:
            linked.setdefault(value, set()).update(values - {value})
    expected_links = {value: len(others) for value, others in linked.items() if others}
    counted = built_warehouse.query(
        "select identifier_type, identifier_value, linked_identifiers from intermediate.int_identity_value_changes"
    )
    assert {(t, v): n for t, v, n in counted} == expected_links
    assert any(n > 1 for n in expected_links.values())

    hubs = set(
        built_warehouse.query("select identifier_type, identifier_value from intermediate.int_identity_hubs")
    )
    nodes = built_warehouse.query(
        "select identifier_type, identifier_value, sources, linked_identifiers from intermediate.int_identity_nodes"
    )
    assert {(t, v): (s, n) for t, v, s, n in nodes} == {
        value: (",".join(sorted(names)), expected_links.get(value, 0))
        for value, names in sources.items()
        if value not in hubs
    }
    assert any("," in s for _, _, s, _ in nodes), "some value is seen in several sources"


@pytest.mark.postgres
def test_both_warehouses_resolve_the_same_customers(
    built_duckdb: Warehouse, built_postgres: Warehouse
) -> None:
    sql = "select source_table, record_id, customer_id from identity.identity_records order by 1, 2"
    assert built_duckdb.query(sql) == built_postgres.query(sql)


# --- stability, merges, hubs: each on a warehouse of its own -------------------------------------------


# Both engines: PostgreSQL solves the connected components with a macro of its own, and the incremental
# identity models run through dispatched SQL (delete_changed_keys, mint_customer_id).
@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def identity_warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """The built demo (its first, full build done) in a warehouse of the test's own: a copy, not another
    generate and build."""
    return copy_of_built(request.param, request)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def small_identity_warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """250 generated people of the test's own, not built: a test of four identity builds, each faster on
    these than on the demo's 400 (measured, docs/testing.md)."""
    warehouse = private_warehouse(request.param, request)
    warehouse.generate(people=250, seed=11)
    return warehouse


def build_identity(warehouse: Warehouse, *extra: str) -> None:
    warehouse.dbt(
        "build",
        "--select",
        "+identity_health",
        "+customer_id_history",
        "--indirect-selection",
        "cautious",
        *NO_UPSTREAM_TESTS,
        *extra,
    )


# The links inside each component (both ends in it).
COMPONENT_LINKS = """
    select end_a.component_id, count(*) as links
    from intermediate.int_identity_edges as link
    inner join intermediate.int_identity_components as end_a on end_a.node_id = link.node_a
    inner join intermediate.int_identity_components as end_b on end_b.node_id = link.node_b
    where end_a.component_id = end_b.component_id
    group by end_a.component_id
"""


def test_ids_stay_stable_and_a_merge_keeps_the_older_id(small_identity_warehouse: Warehouse) -> None:
    warehouse = small_identity_warehouse
    build_identity(warehouse)
    before = customers(warehouse)
    (first_id, first_email, _), (second_id, _, second_phone) = two_customers_with_email_and_phone(warehouse)
    # About 1% new records: a brand-new person, and one CRM record carrying the first customer's email
    # and the second customer's phone, which merges them.
    warehouse.execute(
        """
        insert into raw.crm_contacts (contact_id, email, phone, first_name, last_name, country, created_at, updated_at)
        values ('crm_new_person', 'brand.new.person@newmail.io', '+1 202 555 0199', 'Brand', 'New', 'US',
                timestamp '2026-08-01 10:00:00', timestamp '2026-08-01 10:00:00'),
               ('crm_bridge', 'BRIDGE_EMAIL', 'BRIDGE_PHONE', 'Bridge', 'Record', 'US',
                timestamp '2026-08-02 10:00:00', timestamp '2026-08-02 10:00:00')
        """.replace("BRIDGE_EMAIL", first_email).replace("BRIDGE_PHONE", second_phone)
    )
    warehouse.execute(
        "update raw.crm_contacts set email = trim(email), phone = trim(phone) where contact_id = 'crm_bridge'"
    )
    build_identity(warehouse)
    after = customers(warehouse)
    mode, edges, solved = last_component_run(warehouse)
    assert mode == "incremental"
    assert 0 < solved < edges / 10, "only the links around the new records were solved"

    unchanged = {
        customer_id: members for customer_id, members in before.items() if members in set(after.values())
    }
    assert len(unchanged) >= len(before) - 3
    for customer_id, members in unchanged.items():
        assert after.get(customer_id) == members, "a customer whose identifiers did not change kept its id"

    merged_id = customer_of(warehouse, "email", first_email)
    assert merged_id == customer_of(warehouse, "phone", second_phone)
    assert merged_id == min(first_id, second_id), (
        "both ids were minted in the same run: the smaller id is the older"
    )
    retired = second_id if merged_id == first_id else first_id
    for identifier_type, value in before[first_id] | before[second_id]:
        assert customer_of(warehouse, identifier_type, value) == merged_id, (
            f"{identifier_type}:{value} was in one of the merged customers and kept a stale id"
        )
    history = warehouse.query(
        "select customer_id, change_type, related_customer_id from identity.customer_id_history where change_type <> 'mint'"
    )
    assert (retired, "retire", merged_id) in history
    assert (merged_id, "survive", retired) in history
    new_customer = customer_of(warehouse, "email", "brand.new.person@newmail.io")
    assert new_customer not in before
    assert (
        warehouse.scalar(
            "select count(*) from identity.customer_id_history where change_type = 'mint' and customer_id = %s"
            if warehouse.kind == "postgres"
            else "select count(*) from identity.customer_id_history where change_type = 'mint' and customer_id = ?",
            (new_customer,),
        )
        == 1
    )

    history_rows = warehouse.scalar("select count(*) from identity.customer_id_history")
    incremental_components = components(warehouse)
    build_identity(warehouse, "--full-refresh")
    assert last_component_run(warehouse)[0] == "full"
    assert customers(warehouse) == after, "--full-refresh keeps every id and equals the incremental result"
    assert components(warehouse) == incremental_components, "the same components, node ids and link counts"
    assert warehouse.scalar("select count(*) from identity.customer_id_history") == history_rows

    # Deleting the bridge removes a link inside a known customer: the incremental run solves that customer
    # again and splits it, as a full rebuild does.
    warehouse.execute("delete from raw.crm_contacts where contact_id = 'crm_bridge'")
    build_identity(warehouse)
    assert last_component_run(warehouse)[0] == "incremental"
    split = customers(warehouse)
    split_components = components(warehouse)
    assert customer_of(warehouse, "email", first_email) != customer_of(warehouse, "phone", second_phone)
    build_identity(warehouse, "--full-refresh")
    assert customers(warehouse) == split
    assert components(warehouse) == split_components


def test_a_value_shared_by_strangers_is_excluded_as_a_hub(request: pytest.FixtureRequest) -> None:
    warehouse = private_warehouse("duckdb", request)
    warehouse.generate(people=250, seed=11)
    # A partner tag that writes one fixed cookie value for everybody: 40 strangers' anonymous ids.
    warehouse.execute(
        """
        insert into raw.cookie_syncs (sync_id, partner, partner_cookie_id, anonymous_id, synced_at)
        select 'cks_broken_' || row_number() over (), 'lotame', 'BROKEN-TAG-VALUE', anonymous_id, timestamp '2026-08-01'
        from (select distinct anonymous_id from raw.identifies where anonymous_id like '%-%' order by 1 limit 40)
        """
    )
    build_identity(warehouse)
    hub = warehouse.query(
        "select exclusion_reason, linked_identifiers from identity.identity_excluded_identifiers "
        "where identifier_type = 'cookie_id' and identifier_value = 'BROKEN-TAG-VALUE'"
    )
    usable_strangers = warehouse.scalar(
        "select count(distinct identifier_value) from intermediate.int_identifiers_validated "
        "where record_id like 'cks_broken_%' and identifier_type = 'anonymous_id' and exclusion_reason is null"
    )
    assert usable_strangers >= 30
    assert hub == [("hub", usable_strangers)]
    joined = warehouse.scalar(
        "select max(users) from (select customer_id, count(*) as users from identity.identity_graph "
        "where identifier_type = 'user_id' group by customer_id)"
    )
    assert joined == 1


# --- configuration errors ------------------------------------------------------------------------------


def identity_vars(change) -> str:
    config = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]["cdp_identity"]
    change(config)
    return json.dumps({"cdp_identity": config})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["sources"][4]["identifiers"].update({"email": "e_mail"}),
            r"vars.cdp_identity.sources\[4\].identifiers.email: unknown identifier type 'e_mail'",
        ),
        (
            lambda c: c["identifier_types"]["email"].update({"valid_regex": "^[a-z+@"}),
            r"vars.cdp_identity.identifier_types.email.valid_regex: regular expression .* does not compile",
        ),
        (
            lambda c: c["identifier_types"]["user_id"].update({"max_per_customer": 0}),
            r"vars.cdp_identity.identifier_types.user_id.max_per_customer must be at least 1",
        ),
        (
            lambda c: c["sources"][0]["identifiers"].update({"mail_address": "email"}),
            r"vars.cdp_identity.sources\[0\] \(stg_segment__identifies\): column 'mail_address' does not exist",
        ),
    ],
    ids=["unknown type", "bad regex", "zero limit", "missing column"],
)
def test_bad_identity_config_is_a_compile_error_naming_file_and_key(
    built_duckdb: Warehouse, change, message: str
) -> None:
    with pytest.raises(DbtError, match=r"dbt_project.yml: " + message):
        built_duckdb.dbt(
            "compile",
            "--select",
            "int_identifiers_unioned",
            "int_identifiers_validated",
            "--vars",
            identity_vars(change),
        )


def test_a_link_replaced_inside_a_customer_is_noticed_by_an_incremental_build(
    identity_warehouse: Warehouse,
) -> None:
    """A bridge deleted while another link appears inside one of the bridged customers leaves the merged
    customer with the same identifiers and the same number of links: the incremental build must still notice
    the change (a link lost: the cluster is solved again) and split it, as a full rebuild does."""
    warehouse = identity_warehouse
    mark = "%s" if warehouse.kind == "postgres" else "?"
    # A customer of three identifiers (anonymous id, email, phone) joined by two links: two of them never met.
    first_id = warehouse.scalar(
        f"""
        select graph.customer_id from identity.identity_graph as graph
        inner join intermediate.int_identity_components as component
            on component.identifier_type = graph.identifier_type and component.identifier_value = graph.identifier_value
        inner join ({COMPONENT_LINKS}) as component_links on component_links.component_id = component.component_id
        group by graph.customer_id
        having count(distinct graph.identifier_type) = 3 and count(*) = 3 and max(component_links.links) = 2
            and min(graph.identifier_type) = 'anonymous_id' and max(graph.identifier_type) = 'phone'
        order by graph.customer_id
        limit 1
        """
    )
    members = dict(
        warehouse.query(
            f"select identifier_type, identifier_value from identity.identity_graph where customer_id = {mark}",
            (first_id,),
        )
    )
    linked = {
        frozenset(pair)
        for pair in warehouse.query(
            "select end_a.identifier_type, end_b.identifier_type from intermediate.int_identity_edges as link "
            "inner join intermediate.int_identity_components as end_a on end_a.node_id = link.node_a "
            "inner join intermediate.int_identity_components as end_b on end_b.node_id = link.node_b "
            f"where end_a.identifier_value in ({mark}, {mark}, {mark})",
            tuple(members.values()),
        )
    }
    apart = next(
        frozenset(pair)
        for pair in (("anonymous_id", "email"), ("anonymous_id", "phone"), ("email", "phone"))
        if frozenset(pair) not in linked
    )
    second_phone = next(row for row in two_customers_with_email_and_phone(warehouse) if row[0] != first_id)[2]

    def identify(identify_id: str, values: dict[str, str]) -> None:
        row = {"anonymous_id": None, "email": None, "phone": None, **values}
        warehouse.execute(
            "insert into raw.identifies (id, anonymous_id, email, phone, timestamp, received_at) values "
            f"({mark}, {mark}, {mark}, {mark}, timestamp '2026-08-02 10:00:00', timestamp '2026-08-02 10:00:00')",
            (identify_id, row["anonymous_id"], row["email"], row["phone"]),
        )

    def links_of() -> int:
        return warehouse.scalar(
            f"select max(component_links.links) from ({COMPONENT_LINKS}) as component_links"
            " inner join intermediate.int_identity_components as component"
            f" on component.component_id = component_links.component_id where component.identifier_value = {mark}",
            (members["email"],),
        )

    identify("identify_bridge", {"email": members["email"], "phone": second_phone})
    build_identity(warehouse)
    assert customer_of(warehouse, "email", members["email"]) == customer_of(warehouse, "phone", second_phone)
    links_merged = links_of()

    warehouse.execute("delete from raw.identifies where id = 'identify_bridge'")
    identify("identify_inner", {kind: members[kind] for kind in apart})
    build_identity(warehouse)
    assert last_component_run(warehouse)[0] == "incremental"
    assert customer_of(warehouse, "email", members["email"]) != customer_of(warehouse, "phone", second_phone)
    assert links_of() == 3 and links_merged > 3
    incremental = customers(warehouse)
    incremental_components = components(warehouse)
    build_identity(warehouse, "--full-refresh")
    assert customers(warehouse) == incremental
    assert components(warehouse) == incremental_components
