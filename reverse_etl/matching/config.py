"""The fuzzy-matching configuration, `vars.cdp_matching` in dbt_project.yml, typed and checked at start-up:
every mistake is a ConfigError naming the file, the key and the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reverse_etl.errors import ConfigError

# The comparison each matching column gets (reverse_etl.matching.model builds them).
COMPARED_COLUMNS = ("first_name", "last_name", "date_of_birth", "street", "postal_code", "city", "phone")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WHERE = "dbt_project.yml: vars.cdp_matching"


@dataclass(frozen=True)
class MatchSource:
    """One model whose records are matched: its primary key, which of its columns hold what, and optionally
    its change time (`changed_at`: a column every insert and update sets; docs/identity.md, Incremental runs)."""

    model: str
    record_id: str
    columns: dict[str, str]
    changed_at: str | None = None


@dataclass(frozen=True)
class MatchingConfig:
    enabled: bool
    model_file: Path
    threshold: float
    sources: list[MatchSource]
    blocking_rules: list[list[str]]
    training_rules: list[list[str]]
    deterministic_rules: list[list[str]] = field(default_factory=list)
    deterministic_recall: float = 0.6
    seed: int = 42
    u_max_pairs: int = 1_000_000
    em_max_pairs: int = 1_000_000
    columns: list[str] = field(default_factory=list)


def _names(value: Any, key: str, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{WHERE}.{key} must be a non-empty list of matching columns ({', '.join(allowed)})"
        )
    for item in value:
        if item not in allowed:
            raise ConfigError(
                f"{WHERE}.{key}: '{item}' is not a matching column; use one of {', '.join(allowed)}"
            )
    return list(value)


def _rules(value: Any, key: str, allowed: tuple[str, ...]) -> list[list[str]]:
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"{WHERE}.{key} must list blocking rules, each a list of columns, e.g. [[last_name, date_of_birth]]"
        )
    return [_names(rule, f"{key}[{index}]", allowed) for index, rule in enumerate(value)]


def _source(value: Any, index: int) -> MatchSource:
    key = f"{WHERE}.sources[{index}]"
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping with model, record_id and columns")
    for required in ("model", "record_id", "columns"):
        if value.get(required) is None:
            raise ConfigError(f"{key}.{required} is missing")
    for name in ("model", "record_id", "changed_at"):
        if value.get(name) is not None and (not isinstance(value[name], str) or not NAME.match(value[name])):
            raise ConfigError(f"{key}.{name} must be a model or column name, got {value[name]!r}")
    columns = value["columns"]
    if not isinstance(columns, dict) or not columns:
        raise ConfigError(
            f"{key}.columns must map matching columns ({', '.join(COMPARED_COLUMNS)}) to columns of {value['model']}"
        )
    for compared, column in columns.items():
        if compared not in COMPARED_COLUMNS:
            raise ConfigError(
                f"{key}.columns.{compared} is not a matching column; use one of {', '.join(COMPARED_COLUMNS)}"
            )
        if not isinstance(column, str) or not NAME.match(column):
            raise ConfigError(
                f"{key}.columns.{compared} must name a column of {value['model']}, got {column!r}"
            )
    return MatchSource(
        model=value["model"],
        record_id=value["record_id"],
        columns=dict(columns),
        changed_at=value.get("changed_at"),
    )


def parse(config: Any, root: Path) -> MatchingConfig:
    """The checked configuration from the `cdp_matching` mapping of a project rooted at `root`."""
    if not isinstance(config, dict):
        raise ConfigError(f"{WHERE} is missing; see docs/identity.md, Fuzzy matching")
    enabled = config.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{WHERE}.enabled must be true or false, got {enabled!r}")
    threshold = config.get("threshold", 0.999)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ConfigError(f"{WHERE}.threshold must be a match probability between 0 and 1, got {threshold!r}")
    model_file = config.get("model_file", "matching/model.json")
    if not isinstance(model_file, str) or not model_file.endswith(".json") or Path(model_file).is_absolute():
        raise ConfigError(f"{WHERE}.model_file must be a .json path inside the project, got {model_file!r}")
    raw_sources = config.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{WHERE}.sources must list at least one model with its matching columns")
    sources = [_source(value, index) for index, value in enumerate(raw_sources)]
    columns = [name for name in COMPARED_COLUMNS if any(name in source.columns for source in sources)]
    allowed = tuple(columns)
    training = config.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError(
            f"{WHERE}.training must be a mapping (seed, u_max_pairs, em_max_pairs, blocking_rules, "
            "deterministic_rules, recall)"
        )
    recall = training.get("recall", 0.6)
    if isinstance(recall, bool) or not isinstance(recall, (int, float)) or not 0 < recall <= 1:
        raise ConfigError(f"{WHERE}.training.recall must be a share between 0 and 1, got {recall!r}")
    seed = training.get("seed", 42)
    budgets = {name: training.get(name, 1_000_000) for name in ("u_max_pairs", "em_max_pairs")}
    for name, number in (("seed", seed), *budgets.items()):
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or number < (0 if name == "seed" else 1000)
        ):
            raise ConfigError(
                f"{WHERE}.training.{name} must be a whole number{'' if name == 'seed' else ' of at least 1000'}, got {number!r}"
            )
    return MatchingConfig(
        enabled=enabled,
        model_file=root / model_file,
        threshold=float(threshold),
        sources=sources,
        blocking_rules=_rules(config.get("blocking_rules"), "blocking_rules", allowed),
        training_rules=_rules(training.get("blocking_rules"), "training.blocking_rules", allowed),
        deterministic_rules=_rules(
            training.get("deterministic_rules"), "training.deterministic_rules", allowed
        ),
        deterministic_recall=float(recall),
        seed=seed,
        u_max_pairs=budgets["u_max_pairs"],
        em_max_pairs=budgets["em_max_pairs"],
        columns=columns,
    )


def load(root: Path, overrides: dict[str, Any] | None = None) -> MatchingConfig:
    """`vars.cdp_matching` of the project at `root`, with `overrides` (top-level keys) applied."""
    project_file = root / "dbt_project.yml"
    try:
        # The C loader when PyYAML has it: the pure-Python one takes about half a second on this file.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        project = yaml.load(project_file.read_text(), Loader=loader) or {}  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {project_file}: {error}") from error
    config = dict((project.get("vars") or {}).get("cdp_matching") or {})
    config.update(overrides or {})
    return parse(config, root)
