"""Identity pages: find a customer by any identifier (typed or bare, raw or normalized, as `cdp identity
explain` resolves it), see all its identifiers and golden record, the chain of records between two of its
identifiers, and how many identifiers customers have."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reverse_etl.errors import CdpError
from reverse_etl.identity import Identifier, shortest_chain
from reverse_etl.profiles.normalize import load_rules
from reverse_etl.project import project_dir
from reverse_etl.secrets import redact_all
from reverse_etl.web.charts import bar_chart
from reverse_etl.web.context import context, render
from reverse_etl.web.reads import ReadOnlyLookup, cluster_sizes, customer_identifiers, customer_record


def normalized_candidates(text: str) -> list[Identifier]:
    """What a typed value may be in the graph, by the project's one normalization (reverse_etl.profiles.
    normalize reads the dbt project's rules): `type:value` for that type only, a bare value for every type."""
    rules = load_rules(project_dir())
    kind, separator, value = text.partition(":")
    kinds = [kind] if separator and kind in rules.types else list(rules.types)
    value = value if separator and kind in rules.types else text
    found = []
    for identifier_type in kinds:
        normalized = rules.normalize(identifier_type, value)
        if normalized:
            found.append(Identifier(identifier_type, normalized))
    return found


def _found(lookup: ReadOnlyLookup, text: str) -> list[dict[str, Any]]:
    """Identifiers as seen in the sources (raw or normalized, as `cdp identity explain` resolves them), then
    any value that only its normalized form finds (another spelling of a phone number, say)."""
    results = []
    seen = set()
    for identifier, reason in lookup.resolve(text.strip()):
        customer = lookup.customer_of(identifier) if reason is None else None
        results.append({"identifier": identifier, "excluded": reason, "customer_id": customer})
        seen.add(identifier)
    for identifier in normalized_candidates(text.strip()):
        if identifier in seen:
            continue
        customer = lookup.customer_of(identifier)
        if customer is not None:
            results.append({"identifier": identifier, "excluded": None, "customer_id": customer})
    return results


async def identity(request: Request) -> Response:
    target = context(request).target
    query = request.query_params.get("q", "").strip()
    try:
        sizes = cluster_sizes(target)
        results = _found(ReadOnlyLookup(target), query) if query else []
    except CdpError as error:
        return render(request, "error.html", status_code=503, message=str(error))
    chart = bar_chart([(str(size), count) for size, count in sizes])
    return render(request, "identity.html", query=query, results=results, chart=chart, sizes=sizes)


async def customer(request: Request) -> Response:
    target = context(request).target
    customer_id = request.path_params["customer_id"]
    first, second = request.query_params.get("a", ""), request.query_params.get("b", "")
    try:
        identifiers = customer_identifiers(target, customer_id)
        if not identifiers:
            return render(request, "error.html", status_code=404, message=f"no customer '{customer_id}'")
        record = redact_all(customer_record(target, customer_id))
        chain: list[tuple[Identifier, str, str, Identifier]] | None = None
        if first and second:
            lookup = ReadOnlyLookup(target)
            known = {f"{kind}:{value}": (kind, value) for kind, value in identifiers}
            if first in known and second in known:
                current, goal = Identifier(*known[first]), Identifier(*known[second])
                chain = []
                for link in shortest_chain(lookup.links(customer_id), current, goal) or []:
                    following = link.right if link.left == current else link.left
                    chain.append((current, link.source_table, link.record_id, following))
                    current = following
    except CdpError as error:
        return render(request, "error.html", status_code=503, message=str(error))
    return render(
        request,
        "customer.html",
        customer_id=customer_id,
        identifiers=identifiers,
        record=record,
        first=first,
        second=second,
        chain=chain,
    )


routes = [Route("/identity", identity), Route("/customers/{customer_id}", customer)]
nav = ("Identity", "/identity")
