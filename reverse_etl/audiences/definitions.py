"""Declared segments as the project holds them: vars.cdp_segments in dbt_project.yml and one saved segment per
file pair in models/segments/declared/ (seg_<name>.yml holds the definition under config.meta.cdp_segment,
seg_<name>.sql calls the saved_segment macro). Rendering is the macros' job (render.py); this module gathers
what they render against and checks the rendered SQL with sqlglot: only allowed node types, tables and
columns, so a rule can never become anything but a filter."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from reverse_etl.audiences.render import SegmentMacros, segment_macros
from reverse_etl.errors import ConfigError

SAVED_FOLDER = Path("models") / "segments" / "declared"
# The marts and privacy models a rule reads, and the dbt_project.yml folder each one's schema is set in.
RELATION_FOLDERS = {
    "customer_traits": "marts",
    "customers": "marts",
    "events": "marts",
    "order_lines": "marts",
    "suppressed_customers": "privacy",
}
FIELD_MODELS = ("customer_traits", "customers")
# Columns the rendered SQL may name besides the fields: the events' and order lines' and the as-of time.
RULE_COLUMNS = {
    "customer_id",
    "event_name",
    "occurred_at",
    "as_of_at",
    "product_category",
    "is_completed",
    "ordered_at",
}
ALLOWED_NODES = (
    exp.And,
    exp.Between,
    exp.Boolean,
    exp.Cast,
    exp.Coalesce,
    exp.Column,
    exp.Count,
    exp.DataType,
    exp.EQ,
    exp.From,
    exp.GT,
    exp.GTE,
    exp.Group,
    exp.Having,
    exp.Identifier,
    exp.In,
    exp.Interval,
    exp.Is,
    exp.LT,
    exp.LTE,
    exp.Literal,
    exp.Max,
    exp.Neg,
    exp.NEQ,
    exp.Not,
    exp.Null,
    exp.Or,
    exp.Paren,
    exp.Select,
    exp.Star,
    exp.Sub,
    exp.Subquery,
    exp.Table,
    exp.TableAlias,
    exp.Tuple,
    exp.Var,
    exp.Where,
)


@dataclass
class Project:
    """Everything a rule renders against, read from the project's files."""

    root: Path
    fields: dict[str, str]
    relations: dict[str, str]
    golden_fields: list[str]
    segments: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    adapter_type: str = "duckdb"

    @property
    def channels(self) -> list[str]:
        """The consent channels: has_<channel>_consent columns."""
        return sorted(
            name[4:-8] for name in self.fields if name.startswith("has_") and name.endswith("_consent")
        )

    def context(self) -> dict[str, Any]:
        return {
            "fields": self.fields,
            "relations": self.relations,
            "golden_fields": self.golden_fields,
            "segments": self.segments,
            "origins": self.origins,
        }

    @cached_property
    def macros(self) -> SegmentMacros:
        return segment_macros(self.root / "macros" / "segments", self.adapter_type)


def _yaml(path: Path, root: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path.relative_to(root)}: cannot be read as YAML: {error}") from error


def saved_segment_file(root: Path, name: str) -> Path:
    return root / SAVED_FOLDER / f"seg_{name}.yml"


def read_saved_segment(root: Path, path: Path) -> tuple[str, Any]:
    """(name, definition) of one saved segment's properties file."""
    where = str(path.relative_to(root))
    document = _yaml(path, root)
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, list) or len(models) != 1 or not isinstance(models[0], dict):
        raise ConfigError(f"{where}: a saved segment file declares exactly one model")
    model = models[0]
    meta = (model.get("config") or {}).get("meta") or {}
    if not str(model.get("name", "")).startswith("seg_") or "cdp_segment" not in meta:
        raise ConfigError(f"{where}: the model must be seg_<name> with config.meta.cdp_segment")
    return str(model["name"])[4:], meta["cdp_segment"]


def load_project(root: Path, adapter_type: str = "duckdb") -> Project:
    """The fields (customer_traits and customers contract columns), relations and every declared segment."""
    marts = _yaml(root / "models" / "marts" / "_marts__models.yml", root)["models"]
    fields: dict[str, str] = {}
    golden_fields: list[str] = []
    for model in sorted(
        (model for model in marts if model["name"] in FIELD_MODELS),
        key=lambda m: FIELD_MODELS.index(m["name"]),
    ):
        for column in model["columns"]:
            if model["name"] == "customers" and column["name"] not in fields:
                golden_fields.append(column["name"])
            fields[column["name"]] = column.get("data_type") or ""
    project_file = _yaml(root / "dbt_project.yml", root)
    folders = (project_file.get("models") or {}).get("cdp") or {}
    relations = {
        model: f"{(folders.get(folder) or {}).get('+schema', folder)}.{model}"
        for model, folder in RELATION_FOLDERS.items()
    }
    project = Project(root, fields, relations, golden_fields, adapter_type=adapter_type)
    for name, definition in ((project_file.get("vars") or {}).get("cdp_segments") or {}).items():
        project.segments[name] = definition
        project.origins[name] = f"dbt_project.yml: vars.cdp_segments.{name}"
    for path in sorted((root / SAVED_FOLDER).glob("seg_*.yml")):
        name, definition = read_saved_segment(root, path)
        origin = f"{path.relative_to(root)}: models.seg_{name}.config.meta.cdp_segment"
        if name in project.segments:
            raise ConfigError(f"{origin}: segment {name} is declared twice (also {project.origins[name]})")
        project.segments[name] = definition
        project.origins[name] = origin
    return project


def check_sql(project: Project, name: str, where_sql: str) -> None:
    """Parse the members query of a rendered rule and allow only the node types, tables and columns a rule
    renders to: a ConfigError otherwise (a defect of the renderer, never user SQL let through)."""
    origin = project.origins.get(name, f"segment {name}")
    statement = project.macros.call("segment_members_sql", where_sql, project.context())
    try:
        parsed = sqlglot.parse_one(statement, read=project.adapter_type)
    except sqlglot.errors.ParseError as error:
        raise ConfigError(f"{origin}: the rule does not parse: {str(error).splitlines()[0]}") from error
    condition = parsed.args.get("where")
    if not isinstance(parsed, exp.Select) or condition is None:
        raise ConfigError(f"{origin}: the rule did not render to a filter")
    tables = {relation.split(".")[-1] for relation in project.relations.values()}
    for node in condition.walk():
        if not isinstance(node, ALLOWED_NODES):
            raise ConfigError(f"{origin}: {node.key} is not allowed in a segment rule")
        if isinstance(node, exp.Table) and node.name not in tables:
            raise ConfigError(f"{origin}: table {node.name} is not one a segment rule reads")
        if isinstance(node, exp.Column) and node.name not in project.fields and node.name not in RULE_COLUMNS:
            raise ConfigError(f"{origin}: column {node.name} is not a field")


def render_rule(project: Project, name: str, definition: Any) -> str:
    """The checked WHERE clause of one definition (saved or not), or a ConfigError naming its field."""
    where_sql = str(project.macros.call("segment_rule_sql", name, definition, project.context()))
    check_sql(project, name, where_sql)
    return where_sql


def validate_segments(root: Path, adapter_type: str = "duckdb") -> dict[str, str]:
    """Each declared segment's WHERE clause, or a ConfigError naming the file, the segment and the field."""
    project = load_project(root, adapter_type)
    return {name: render_rule(project, name, definition) for name, definition in project.segments.items()}
