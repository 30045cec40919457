"""`cdp segments validate`: the segments declared in vars.cdp_segments, checked before anything runs.
Each condition is rendered to SQL and parsed with sqlglot; only known trait columns, the allowed operators
and plain literals may appear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from reverse_etl.errors import ConfigError

OPERATORS = {"=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"}
ALLOWED_NODES = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Tuple,
    exp.Paren,
    exp.Null,
    exp.Not,
    exp.And,
    exp.EQ,
    exp.NEQ,
    exp.LT,
    exp.LTE,
    exp.GT,
    exp.GTE,
    exp.In,
    exp.Is,
    exp.Neg,
)


def known_traits(root: Path) -> list[str]:
    """The columns of the customer_traits contract (models/marts/_marts__models.yml)."""
    models = yaml.safe_load((root / "models" / "marts" / "_marts__models.yml").read_text())["models"]
    traits = next(model for model in models if model["name"] == "customer_traits")
    return [column["name"] for column in traits["columns"]]


def literal(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ConfigError(f"{where}.value: {value!r} is not a number, text or true/false")


def condition_sql(condition: Any, traits: list[str], where: str) -> str:
    if not isinstance(condition, dict) or condition.get("trait") not in traits:
        trait = condition.get("trait") if isinstance(condition, dict) else condition
        raise ConfigError(f"{where}.trait: '{trait}' is not a column of customer_traits")
    operator = str(condition.get("op", "")).lower()
    if operator not in OPERATORS:
        raise ConfigError(
            f"{where}.op: '{condition.get('op')}' is not allowed; use one of {', '.join(sorted(OPERATORS))}"
        )
    if operator in ("is null", "is not null"):
        return f"{condition['trait']} {operator}"
    if operator in ("in", "not in"):
        values = condition.get("value")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.value: '{operator}' needs a non-empty list")
        return f"{condition['trait']} {operator} ({', '.join(literal(value, where) for value in values)})"
    return f"{condition['trait']} {operator} {literal(condition.get('value'), where)}"


def validate_segments(root: Path) -> dict[str, str]:
    """Each declared segment's WHERE clause, or a ConfigError naming the segment and the field."""
    project = yaml.safe_load((root / "dbt_project.yml").read_text())
    segments = (project.get("vars") or {}).get("cdp_segments") or {}
    traits = known_traits(root)
    rendered = {}
    for name, definition in segments.items():
        where = f"dbt_project.yml: vars.cdp_segments.{name}"
        if (
            not isinstance(name, str)
            or not name.replace("_", "").isalnum()
            or not name[:1].isalpha()
            or name != name.lower()
        ):
            raise ConfigError(f"{where}: segment names are lower-case letters, digits and underscores")
        conditions = (definition or {}).get("conditions") if isinstance(definition, dict) else None
        if not conditions:
            raise ConfigError(f"{where}.conditions must list at least one {{trait, op, value}}")
        clause = " and ".join(
            condition_sql(c, traits, f"{where}.conditions[{i}]") for i, c in enumerate(conditions)
        )
        try:
            parsed = sqlglot.parse_one(f"select customer_id from customer_traits where {clause}")  # noqa: S608 - parsed, never run
        except sqlglot.errors.ParseError as error:
            raise ConfigError(f"{where}: conditions do not parse: {str(error).splitlines()[0]}") from error
        condition_tree = parsed.args["where"].this
        for node in condition_tree.walk():
            if not isinstance(node, ALLOWED_NODES):
                raise ConfigError(f"{where}: {node.key} is not allowed in a segment condition")
            if isinstance(node, exp.Column) and node.name not in traits:
                raise ConfigError(f"{where}: column {node.name} is not a trait")
        rendered[name] = clause
    return rendered
