"""Queries the identity tests share: the customers of the identity graph, one customer's id, two customers
to merge, the latest connected-components run and the components themselves."""

from __future__ import annotations

from conftest import Warehouse


def customers(warehouse: Warehouse) -> dict[str, frozenset[tuple[str, str]]]:
    members: dict[str, set[tuple[str, str]]] = {}
    for customer_id, identifier_type, value in warehouse.query(
        "select customer_id, identifier_type, identifier_value from identity.identity_graph"
    ):
        members.setdefault(customer_id, set()).add((identifier_type, value))
    return {customer_id: frozenset(identifiers) for customer_id, identifiers in members.items()}


def customer_of(warehouse: Warehouse, identifier_type: str, value: str) -> str:
    return warehouse.scalar(
        "select customer_id from identity.identity_graph where identifier_type = %s and identifier_value = %s"
        if warehouse.kind == "postgres"
        else "select customer_id from identity.identity_graph where identifier_type = ? and identifier_value = ?",
        (identifier_type, value),
    )


def two_customers_with_email_and_phone(warehouse: Warehouse) -> list[tuple[str, str, str]]:
    return warehouse.query(
        """
        select customer_id, min(case when identifier_type = 'email' then identifier_value end),
               min(case when identifier_type = 'phone' then identifier_value end)
        from identity.identity_graph
        group by customer_id
        having count(case when identifier_type = 'email' then 1 end) = 1
           and count(case when identifier_type = 'phone' then 1 end) >= 1
           and count(case when identifier_type = 'user_id' then 1 end) = 0
        order by customer_id
        limit 2
        """
    )


def last_component_run(warehouse: Warehouse) -> tuple[str, int, int]:
    """(mode, edges, solved_edges) of the latest connected-components run."""
    mode, edges, solved = warehouse.query(
        "select mode, edges, solved_edges from intermediate.identity_component_runs"
        " order by run_started_at desc limit 1"
    )[0]
    return mode, int(edges), int(solved)


def components(warehouse: Warehouse) -> set[tuple]:
    """Every linked identifier's row in int_identity_components (node ids are stable across builds)."""
    return set(
        warehouse.query(
            "select node_id, identifier_type, identifier_value, component_id, cluster_id"
            " from intermediate.int_identity_components"
        )
    )
