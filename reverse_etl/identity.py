"""`cdp identity explain`: why identifiers belong to one customer (the chain of records linking them), or
why an identifier was left out of the graph."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from reverse_etl.errors import CdpError, WarehouseError
from reverse_etl.project import Target, connect


@dataclass(frozen=True)
class Identifier:
    identifier_type: str
    identifier_value: str

    def __str__(self) -> str:
        return f"{self.identifier_type}:{self.identifier_value}"


@dataclass(frozen=True)
class Link:
    """Two identifiers seen on one source record."""

    left: Identifier
    right: Identifier
    source_table: str
    record_id: str


class IdentityLookup:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.marker = "%s" if target.type == "postgres" else "?"

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        connection = connect(self.target)
        try:
            cursor = connection.cursor()
            cursor.execute(sql.replace("?", self.marker), params)
            return [tuple(row) for row in cursor.fetchall()]
        except Exception as error:
            if "identity_graph" in str(error) or "int_identifiers_validated" in str(error):
                raise WarehouseError(
                    f"the identity graph is not built on {self.target.describe()}; run `cdp dbt build` first"
                ) from error
            raise
        finally:
            connection.close()

    def resolve(self, text: str) -> list[tuple[Identifier, str | None]]:
        """The identifiers a user's text may mean ("type:value" or a bare raw or normalized value), with the
        exclusion reason of each (None when it is in the graph)."""
        identifier_type, _, value = (
            text.partition(":") if ":" in text and not text.startswith("+") else ("", "", text)
        )
        if identifier_type and " " in identifier_type:
            identifier_type, value = "", text
        type_filter = " and identifier_type = ?" if identifier_type else ""
        params: tuple[Any, ...] = (value, value.strip().lower(), value) + (
            (identifier_type,) if identifier_type else ()
        )
        rows = self._query(
            "select distinct identifier_type, identifier_value, exclusion_reason from intermediate.int_identifiers_validated "
            "where (identifier_value_raw = ? or lower(identifier_value) = ? or identifier_value = ?)"
            + type_filter,
            params,
        )
        # Reasons decided after validation (hubs, and deletion requests applied in this build) are only in
        # identity_excluded_identifiers.
        values = sorted({row[1] for row in rows if row[1] is not None})
        excluded = {
            (row[0], row[1]): row[2]
            for row in (
                self._query(
                    "select identifier_type, identifier_value, exclusion_reason from identity.identity_excluded_identifiers "
                    f"where identifier_value in ({', '.join('?' for _ in values)})",
                    tuple(values),
                )
                if values
                else []
            )
        }
        found = []
        for row_type, row_value, reason in rows:
            if row_value is None:
                continue
            found.append((Identifier(row_type, row_value), reason or excluded.get((row_type, row_value))))
        return sorted(set(found), key=lambda item: str(item[0]))

    def customer_of(self, identifier: Identifier) -> str | None:
        rows = self._query(
            "select customer_id from identity.identity_graph where identifier_type = ? and identifier_value = ?",
            (identifier.identifier_type, identifier.identifier_value),
        )
        return rows[0][0] if rows else None

    def exclusion(self, identifier: Identifier) -> tuple[Any, ...] | None:
        rows = self._query(
            "select exclusion_reason, records, sample_raw_value, sample_record, linked_identifiers "
            "from identity.identity_excluded_identifiers where identifier_type = ? and identifier_value = ?",
            (identifier.identifier_type, identifier.identifier_value),
        )
        return rows[0] if rows else None

    def links(self, customer_id: str) -> list[Link]:
        """Every link inside one customer: each record joins its anchor to its other identifiers."""
        rows = self._query(
            """
            select anchor_node.identifier_type, anchor_node.identifier_value,
                   other_node.identifier_type, other_node.identifier_value, anchor.source_table, anchor.record_id
            from intermediate.int_identity_record_anchors as anchor
            join intermediate.int_identity_record_anchors as other
                on other.source_table = anchor.source_table and other.record_id = anchor.record_id and other.rank_in_record > 1
            join intermediate.int_identity_nodes as anchor_node on anchor_node.node_id = anchor.node_id
            join intermediate.int_identity_nodes as other_node on other_node.node_id = other.node_id
            join identity.identity_graph as graph
                on graph.identifier_type = anchor_node.identifier_type and graph.identifier_value = anchor_node.identifier_value
            where anchor.rank_in_record = 1 and graph.customer_id = ?
            """,
            (customer_id,),
        )
        return [Link(Identifier(r[0], r[1]), Identifier(r[2], r[3]), r[4], r[5]) for r in rows]

    def fuzzy_links(self, group: str, limit: int = 5) -> list[tuple[Any, ...]]:
        """The strongest scored pairs inside one fuzzy-matching group, with their probability and levels."""
        return self._query(
            """
            select links.source_table_l, links.record_id_l, links.source_table_r, links.record_id_r,
                   links.match_probability, links.match_weight, links.fired_levels
            from matching.record_links as links
            join matching.record_groups as left_group
                on left_group.source_table = links.source_table_l and left_group.record_id = links.record_id_l
            join matching.record_groups as right_group
                on right_group.source_table = links.source_table_r and right_group.record_id = links.record_id_r
            where left_group.match_group = ? and right_group.match_group = ?
            order by links.match_probability desc, links.record_id_l, links.record_id_r
            """,
            (group, group),
        )[:limit]


FUZZY = "fuzzy_match"


def shortest_chain(links: list[Link], start: Identifier, goal: Identifier) -> list[Link] | None:
    """Breadth-first search over the links: the fewest records that connect two identifiers."""
    neighbours: dict[Identifier, list[tuple[Identifier, Link]]] = {}
    for link in links:
        neighbours.setdefault(link.left, []).append((link.right, link))
        neighbours.setdefault(link.right, []).append((link.left, link))
    previous: dict[Identifier, tuple[Identifier, Link] | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current == goal:
            chain: list[Link] = []
            while previous[current] is not None:
                before, link = previous[current]  # type: ignore[misc]
                chain.append(link)
                current = before
            return list(reversed(chain))
        for neighbour, link in neighbours.get(current, []):
            if neighbour not in previous:
                previous[neighbour] = (current, link)
                queue.append(neighbour)
    return None


def explain(target: Target, first: str, second: str | None = None) -> str:
    lookup = IdentityLookup(target)
    lines: list[str] = []
    resolved = []
    for text in [first] + ([second] if second else []):
        candidates = lookup.resolve(text)
        if not candidates:
            raise CdpError(
                f"'{text}' was not seen in any source; try type:value, e.g. email:jane@example.com"
            )
        usable = [identifier for identifier, reason in candidates if reason is None]
        for identifier, reason in candidates:
            if reason is not None:
                details = lookup.exclusion(identifier)
                lines.append(f"{identifier} is excluded from the graph: {reason}")
                if details:
                    reason_name, records, sample, sample_record, linked = details
                    extra = f", seen with {linked} other identifiers" if linked is not None else ""
                    lines.append(f"  on {records} records{extra}; sample: {sample or sample_record}")
        if not usable:
            return "\n".join(lines)
        resolved.append(usable[0])
    identifier = resolved[0]
    customer_id = lookup.customer_of(identifier)
    links = lookup.links(customer_id) if customer_id else []
    members = {link.left for link in links} | {link.right for link in links} | {identifier}
    lines.append(f"{identifier} belongs to customer {customer_id} ({len(members)} identifiers)")
    if len(resolved) == 2:
        other = resolved[1]
        other_customer = lookup.customer_of(other)
        if other_customer != customer_id:
            lines.append(f"{other} belongs to another customer, {other_customer}: nothing links them")
            return "\n".join(lines)
        chain = shortest_chain(links, identifier, other) or []
        lines.append(f"{identifier} and {other} are linked through {len(chain)} records:")
        current = identifier
        for link in chain:
            following = link.right if link.left == current else link.left
            lines.append(f"  {current} -- {link.source_table} {link.record_id} -- {following}")
            current = following
        groups = sorted(
            {step.identifier_value for step in [identifier, *members] if step.identifier_type == FUZZY}
        )
        for group in (
            groups
            if any(FUZZY in (link.left.identifier_type, link.right.identifier_type) for link in chain)
            else []
        ):
            lines.append(f"{FUZZY}:{group} is a fuzzy match (cdp match); its strongest scored pairs:")
            for table_l, record_l, table_r, record_r, probability, weight, fired in lookup.fuzzy_links(group):
                lines.append(
                    f"  {table_l} {record_l} ~ {table_r} {record_r}: probability {probability:.4f}, "
                    f"weight {weight:.1f} ({fired})"
                )
    return "\n".join(lines)
