"""Web events read from loader tables as Segment and RudderStack really write them: the column lists of their
documented warehouse schemas, with traits only as columns once a value arrived (no phone here), the event name
in event_text beside a snake_case slug in event, and no revenue/product/cart columns on tracks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Warehouse, fresh_warehouse, new_duckdb_warehouse
from reverse_etl.errors import DbtError

PEOPLE = 30
OTHER_FAMILIES_OFF = dict.fromkeys(
    ["app", "crm", "orders", "email", "dmp", "support", "consent", "privacy"], False
)

# Columns per table, as each vendor's warehouse schema documents them (traits and properties become columns).
SEGMENT = {
    "identifies": {
        "id": "id",
        "anonymous_id": "anonymous_id",
        "user_id": "user_id",
        "context_ip": "context_ip",
        "context_library_name": "'analytics.js'",
        "context_user_agent": "context_user_agent",
        "email": "email",
        "first_name": "first_name",
        "last_name": "last_name",
        "received_at": "received_at",
        "sent_at": "received_at",
        "timestamp": '"timestamp"',
        "uuid_ts": "received_at",
    },
    "tracks": {
        "id": "id",
        "anonymous_id": "anonymous_id",
        "user_id": "user_id",
        "context_ip": "context_ip",
        "context_user_agent": "context_user_agent",
        "event": "event",
        "event_text": "event_text",
        "received_at": "received_at",
        "sent_at": "received_at",
        "timestamp": '"timestamp"',
        "uuid_ts": "received_at",
    },
    "pages": {
        "id": "id",
        "anonymous_id": "anonymous_id",
        "user_id": "user_id",
        "context_user_agent": "context_user_agent",
        "name": "title",
        "path": "path",
        "referrer": "referrer",
        "search": "cast(null as varchar)",
        "title": "title",
        "url": "url",
        "received_at": "received_at",
        "sent_at": "received_at",
        "timestamp": '"timestamp"',
        "uuid_ts": "received_at",
    },
}
# RudderStack adds original_timestamp and channel to every table and keeps the same core names.
RUDDERSTACK = {
    table: {**columns, "original_timestamp": '"timestamp"', "channel": "'web'"}
    for table, columns in SEGMENT.items()
}


# Tables read on request (vars.cdp_loader_tables). users: the latest traits per user id (id is the user id;
# Segment writes no anonymous_id there, and no phone here since none was sent). order_completed: the per-event
# table, the track columns plus the Order Completed properties as columns (products as a JSON string), made from
# the generated online orders, with one event delivered twice.
# The latest identify call per user id (row_number rather than arg_max: the same SQL on DuckDB and PostgreSQL).
USERS = """
    select id, email, first_name, last_name, received_at, received_at as uuid_ts from (
        select user_id as id, anonymous_id, email, first_name, last_name, received_at,
            row_number() over (partition by user_id order by received_at desc, id desc) as newest
        from raw.identifies where user_id is not null
    ) as latest where newest = 1
"""
# RudderStack's users table also keeps the latest anonymous id.
RUDDERSTACK_USERS = USERS.replace("select id, email,", "select id, anonymous_id, email,")
ORDER_COMPLETED = """
    select 'oc_' || order_id as id, cast(null as varchar) as anonymous_id, user_id, email as context_traits_email,
        'order_completed' as event, 'Order Completed' as event_text, order_id, total_amount as total,
        round(cast(total_amount * 0.8 as numeric), 2) as revenue, currency, ({PRODUCTS}) as products, ordered_at as "timestamp",
        received_at, received_at as sent_at, received_at as uuid_ts
    from raw.orders where channel = 'online' and status = 'completed'
"""
# The order's lines as the spec's products array (a JSON string): product_id, sku, name, category (as a site
# sends it, capitalised), price, quantity; built by string concatenation, the same SQL on DuckDB and PostgreSQL.
PRODUCTS = """
    select '[' || string_agg(
        '{"product_id": "' || items.product_id || '", "sku": "SKU-' || items.product_id || '", "name": "Item '
        || items.product_id || '", "category": "' || upper(items.product_category) || '", "price": '
        || cast(items.unit_price as varchar) || ', "quantity": ' || cast(items.quantity as varchar) || '}',
        ', ' order by items.order_item_id
    ) || ']'
    from raw.order_items as items where items.order_id = orders.order_id
"""
ORDER_COMPLETED = ORDER_COMPLETED.replace("{PRODUCTS}", PRODUCTS).replace(
    "from raw.orders where", "from raw.orders as orders where"
)
LOADER_TABLES_ON = {"users": True, "order_completed": True}


def load_vendor_schema(warehouse: Warehouse, schema: str, tables: dict[str, dict[str, str]]) -> None:
    """Copy the generated web events into a loader-shaped schema (only the vendor's columns)."""
    warehouse.execute(f"create schema {schema}")
    for table, columns in tables.items():
        select = ", ".join(f"{expression} as {name}" for name, expression in columns.items())
        warehouse.execute(f"create table {schema}.{table} as select {select} from raw.{table}")
    users = RUDDERSTACK_USERS if schema == "rudderstack" else USERS
    warehouse.execute(f"create table {schema}.users as {users}")
    warehouse.execute(f"create table {schema}.order_completed as {ORDER_COMPLETED}")
    warehouse.execute(f"insert into {schema}.order_completed select * from {schema}.order_completed limit 1")


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("vendor, tables", [("segment", SEGMENT), ("rudderstack", RUDDERSTACK)])
def test_a_loader_schema_builds_and_resolves_identities(
    vendor: str, tables: dict[str, dict[str, str]], kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    warehouse = fresh_warehouse(kind, request, tmp_path, "cdp_loader")
    warehouse.generate(people=PEOPLE)
    load_vendor_schema(warehouse, vendor, tables)
    variables = {
        "cdp_raw_schema": vendor,
        "cdp_sources": OTHER_FAMILIES_OFF,
        "cdp_loader_tables": LOADER_TABLES_ON,
    }
    warehouse.dbt("build", "--vars", json.dumps(variables))
    # Event names come from event_text, not the slug; absent columns are nulls.
    assert warehouse.query(
        "select distinct event_name from staging.stg_segment__tracks order by 1"
    ) == warehouse.query("select distinct event_text from raw.tracks order by 1")
    assert warehouse.scalar("select count(*) from staging.stg_segment__tracks where revenue is not null") == 0
    assert (
        warehouse.scalar("select count(*) from staging.stg_segment__identifies where phone is not null") == 0
    )
    assert warehouse.scalar("select count(*) from staging.stg_segment__identifies") == warehouse.scalar(
        "select count(*) from raw.identifies"
    )
    # Identities resolve: every anonymous id an identify call tied to a user id is in that user's customer.
    split = warehouse.scalar(
        """
        select count(*) from (
            select identifies.user_id
            from staging.stg_segment__identifies as identifies
            join identity.identity_records as records
              on records.source_table = 'stg_segment__identifies' and records.record_id = identifies.identify_id
            where identifies.user_id is not null
            group by identifies.user_id
            having count(distinct records.customer_id) > 1
        ) as split_users
        """
    )
    assert split == 0
    linked = warehouse.scalar(
        """
        select count(distinct tracks_records.customer_id)
        from identity.identity_records as tracks_records
        join identity.identity_records as identify_records on identify_records.customer_id = tracks_records.customer_id
        where tracks_records.source_table = 'stg_segment__tracks'
          and identify_records.source_table = 'stg_segment__identifies'
        """
    )
    assert linked > 0
    assert warehouse.scalar("select count(*) from marts.customer_360") > 0
    # The orders are the Order Completed events, once each, for their total; every one converts and most have
    # their buyer.
    fixture = f"select distinct order_id, total, currency, user_id from {vendor}.order_completed"
    orders, revenue = warehouse.query(
        f"select count(*), round(cast(sum(total) as numeric), 2) from ({fixture}) as events"
    )[0]
    assert orders > 0
    assert warehouse.query(
        "select count(*), round(cast(sum(order_amount) as numeric), 2) from marts.orders"
    ) == [(orders, revenue)]
    assert warehouse.scalar("select count(*) from marts.orders where reporting_order_amount is null") == 0
    assert warehouse.scalar("select count(*) from marts.orders where customer_id is null") == 0
    assert warehouse.scalar("select sum(orders) from marts.customer_traits") == orders
    # The products array becomes the order lines: the generated lines of those orders, once each (the event
    # delivered twice gives its lines once), with their products, lower-cased categories and amounts.
    expected_lines = warehouse.query(
        f"""
        select items.order_id, items.product_id, lower(items.product_category), items.quantity,
            round(cast(items.quantity * items.unit_price as numeric), 2)
        from raw.order_items as items
        where items.order_id in (select order_id from {vendor}.order_completed)
        order by 1, 2, 3, 4, 5
        """
    )
    lines = warehouse.query(
        "select order_id, product_id, product_category, quantity, round(cast(line_amount as numeric), 2)"
        " from marts.order_lines order by 1, 2, 3, 4, 5"
    )
    assert lines and lines == expected_lines
    # The users table is one more identity source: each user id is one customer with its identify calls.
    users = warehouse.scalar(f"select count(*) from {vendor}.users")
    assert users > 0
    with_anonymous_id = users if vendor == "rudderstack" else 0
    assert warehouse.scalar("select count(anonymous_id) from staging.stg_segment__users") == with_anonymous_id
    assert warehouse.scalar("select count(*) from staging.stg_segment__users where phone is null") == users
    assert (
        warehouse.scalar(
            """
            select count(*) from staging.stg_segment__users as users
            join identity.identity_records as user_records
              on user_records.source_table = 'stg_segment__users' and user_records.record_id = users.user_id
            join staging.stg_segment__identifies as identifies on identifies.user_id = users.user_id
            join identity.identity_records as identify_records
              on identify_records.source_table = 'stg_segment__identifies'
             and identify_records.record_id = identifies.identify_id
            where identify_records.customer_id <> user_records.customer_id
            """
        )
        == 0
    )
    assert (
        warehouse.scalar(
            "select count(distinct record_id) from identity.identity_records where source_table = 'stg_segment__users'"
        )
        == users
    )
    # A tracks table without event_text: the slugs in event are mapped by seeds/event_name_mappings.csv.
    # PostgreSQL keeps the staging views that read the column: drop them with it (the run makes them again).
    cascade = " cascade" if kind == "postgres" else ""
    warehouse.execute(f"alter table {vendor}.tracks drop column event_text{cascade}")
    warehouse.dbt("run", "--select", "stg_segment__tracks", "--vars", json.dumps(variables))
    assert warehouse.query(
        "select distinct event_name from staging.stg_segment__tracks order by 1"
    ) == warehouse.query("select distinct event_text from raw.tracks order by 1")


def test_a_missing_required_column_or_two_order_sources_is_a_compile_error(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=5)
    tables = {table: dict(columns) for table, columns in SEGMENT.items()}
    del tables["tracks"]["received_at"]
    load_vendor_schema(warehouse, "segment", tables)
    variables = {"cdp_raw_schema": "segment", "cdp_sources": OTHER_FAMILIES_OFF}
    with pytest.raises(DbtError, match=r"source segment.tracks: .* has no column received_at"):
        warehouse.dbt("compile", "--select", "stg_segment__tracks", "--vars", json.dumps(variables))
    # Orders come from one place: the loader's order_completed needs the orders family off.
    both = {"cdp_raw_schema": "segment", "cdp_loader_tables": {"order_completed": True}}
    with pytest.raises(
        DbtError, match=r"cdp_loader_tables\.order_completed .* set vars\.cdp_sources\.orders to false"
    ):
        warehouse.dbt("compile", "--select", "stg_shop__orders", "--vars", json.dumps(both))
