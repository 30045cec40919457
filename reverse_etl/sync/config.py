"""Sync declarations: dbt exposures of type application with the settings under meta.cdp_sync.
Read from target/manifest.json and validated at start-up; errors name the file, the key and the fix."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from reverse_etl import secrets
from reverse_etl.destinations.base import Mode
from reverse_etl.errors import ConfigError
from reverse_etl.warehouse import checked_name

DEFAULT_MAX_CHANGE_SHARE = 0.2
# ${NAME} or $NAME in an option, as os.path.expandvars reads them.
ENV_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Relation:
    database: str | None
    schema: str
    name: str


@dataclass(frozen=True)
class SyncConfig:
    name: str
    model: str
    relation: Relation
    destination: str
    mode: Mode
    primary_key: str
    # destination field name -> model column; empty means every column of the model under its own name.
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    max_change_share: float = DEFAULT_MAX_CHANGE_SHARE
    source_file: str = ""
    # Ad-hoc SQL instead of a model: one read-only SELECT (checked by reverse_etl.sync.adhoc).
    query: str | None = None
    # Where suppressed customers are listed (the dbt model suppressed_customers); set for syncs keyed by
    # customer_id, whose rows of those customers are deleted at the destination (reverse_etl.sync.forget).
    forget_from: Relation | None = None
    # Why the sync cannot run (its query was refused); every command on it fails with this ConfigError.
    error: str | None = None

    def describe(self) -> str:
        refused = f"  REFUSED: {self.error}" if self.error else ""
        return f"{self.name}: {self.model} -> {self.destination} ({self.mode.value}){refused}"


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def parse_sync(
    exposure: dict[str, Any],
    models: dict[str, Relation],
    dialect: str = "duckdb",
    keep_refused_query: bool = False,
) -> SyncConfig:
    """One sync from its exposure. A query the checks refuse raises, or with keep_refused_query is kept with the
    refusal in `error`: such a sync fails alone, with that message, and the other syncs still load."""
    source_file = exposure.get("original_file_path", "models")
    where = f"{source_file}: exposures.{exposure.get('name')}.meta.cdp_sync"
    settings = (exposure.get("meta") or {}).get("cdp_sync") or (
        exposure.get("config", {}).get("meta") or {}
    ).get("cdp_sync")
    if not isinstance(settings, dict):
        raise _fail(where, "is missing or not a mapping")
    known = {
        "model",
        "query",
        "destination",
        "mode",
        "primary_key",
        "fields",
        "options",
        "schedule",
        "max_change_share",
    }
    unknown = sorted(set(settings) - known)
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    for key in ("destination", "mode", "primary_key"):
        if not settings.get(key):
            raise _fail(f"{where}.{key}", "is required")
    if bool(settings.get("model")) == bool(settings.get("query")):
        raise _fail(
            where, "give either model (a dbt model) or query (one read-only SELECT), not both or neither"
        )
    query = None
    refused: str | None = None
    if settings.get("query"):
        from reverse_etl.sync.adhoc import checked_query

        query = str(settings["query"])
        try:
            checked_query(query, dialect, f"{where}.query")
        except ConfigError as refusal:
            if not keep_refused_query:
                raise
            refused = str(refusal)
        model = f"query_{exposure.get('name')}"
        relation = Relation(None, "", model)
    else:
        model = checked_name(settings["model"], f"{where}.model")
        if model not in models:
            raise _fail(f"{where}.model", f"no model named '{model}' in the project")
        relation = models[model]
    try:
        mode = Mode(settings["mode"])
    except ValueError as error:
        raise _fail(
            f"{where}.mode",
            f"'{settings['mode']}' is not a mode; use one of {', '.join(m.value for m in Mode)}",
        ) from error
    fields = settings.get("fields") or {}
    if not isinstance(fields, dict):
        raise _fail(f"{where}.fields", "must map destination field names to model columns")
    for column in fields.values():
        checked_name(column, f"{where}.fields column")
    share = settings.get("max_change_share", DEFAULT_MAX_CHANGE_SHARE)
    if not isinstance(share, int | float) or not 0 < share <= 1:
        raise _fail(f"{where}.max_change_share", f"must be a share between 0 and 1, got {share!r}")
    options = settings.get("options") or {}
    if not isinstance(options, dict):
        raise _fail(f"{where}.options", "must be a mapping of destination options")
    return SyncConfig(
        name=checked_name(exposure["name"], f"{source_file}: exposure name"),
        model=model,
        relation=relation,
        query=query,
        destination=str(settings["destination"]),
        mode=mode,
        primary_key=checked_name(settings["primary_key"], f"{where}.primary_key"),
        fields=dict(fields),
        options=dict(options),
        schedule=settings.get("schedule"),
        max_change_share=float(share),
        source_file=source_file,
        error=refused,
    )


def expand_env(options: dict[str, Any]) -> dict[str, Any]:
    """Options may name environment variables as ${NAME} (e.g. a sandbox URL); expanded when a destination is
    made, so the value in force at run time counts. The value of a secret-named variable (TOKEN, SECRET, KEY,
    PASSWORD, ...) put into a URL this way is masked wherever the URL is stored or shown."""
    for value in options.values():
        if isinstance(value, str):
            for name in ENV_REFERENCE.findall(value):
                variable = name[0] or name[1]
                if secrets.SECRET_NAME.search(variable):
                    secrets.register(os.environ.get(variable))
    return {
        key: os.path.expandvars(value) if isinstance(value, str) else value for key, value in options.items()
    }


def load_syncs(manifest_path: Path, dialect: str = "duckdb") -> dict[str, SyncConfig]:
    """Every sync declared in the project, by name. A sync whose query is refused is loaded with its error (see
    parse_sync), so one bad query does not stop the others; any other bad declaration stops the load."""
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"{manifest_path}: cannot read the dbt manifest ({error}); run `cdp dbt parse`"
        ) from error
    models = {
        node["name"]: Relation(node.get("database"), node["schema"], node.get("alias") or node["name"])
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
    }
    syncs: dict[str, SyncConfig] = {}
    for exposure in manifest.get("exposures", {}).values():
        meta = exposure.get("meta") or (exposure.get("config") or {}).get("meta") or {}
        if exposure.get("type") == "application" and "cdp_sync" in meta:
            sync = parse_sync(exposure, models, dialect, keep_refused_query=True)
            if sync.primary_key == "customer_id" and "suppressed_customers" in models:
                sync = replace(sync, forget_from=models["suppressed_customers"])
            syncs[sync.name] = sync
    return syncs


def secret_lookup(name: str) -> str:
    """A credential from the environment, else from the YAML file named by CDP_SECRETS_FILE (kept outside git)."""
    value = os.environ.get(name)
    if value:
        secrets.register(value)
        return value
    secrets_file = os.environ.get("CDP_SECRETS_FILE")
    if secrets_file and Path(secrets_file).is_file():
        try:
            stored = yaml.safe_load(Path(secrets_file).read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{secrets_file}: not valid YAML ({error.__class__.__name__})") from error
        if isinstance(stored, dict) and stored.get(name):
            secrets.register(str(stored[name]))
            return str(stored[name])
    raise ConfigError(
        f"missing credential {name}: set the environment variable {name} or add it to CDP_SECRETS_FILE"
    )
