"""Saving a segment and attaching it to a destination: files in the project, reviewed and versioned like code,
never rows in the warehouse. Each write is validated first, then atomic (a temporary file renamed over the
target), and refuses to replace a different segment or sync unless asked to."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout

from reverse_etl.audiences.definitions import (
    SAVED_FOLDER,
    load_project,
    read_saved_segment,
    render_rule,
    saved_segment_file,
)
from reverse_etl.errors import ConfigError

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SYNC_FOLDER = Path("models") / "activation" / "declared"
# The saved segment model's columns (see macros/segments/saved_segment.sql) and the customers column each is.
MEMBER_COLUMNS = {
    "customer_id": "customer_id",
    "email": "primary_email",
    "phone": "primary_phone",
    "first_name": "first_name",
    "last_name": "last_name",
}
SAVED_SQL = "{{ cdp.saved_segment() }}\n"
# How long a save waits for another save into the same project.
LOCK_SECONDS = 30.0


def _checked_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(
            f"{what} '{name}': use lower-case letters, digits and underscores, starting with a letter"
        )
    return name


@contextmanager
def _project_lock(root: Path) -> Iterator[None]:
    """One writer of a project's segment and sync files at a time (two saves of one name cannot both pass
    the overwrite check); the lock file lives in the temporary folder, never in the project."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    lock = FileLock(str(Path(tempfile.gettempdir()) / f"cdp-audiences-{key}.lock"), timeout=LOCK_SECONDS)
    try:
        lock.acquire()
    except Timeout as error:
        raise ConfigError(
            f"another save into this project has held its files for {LOCK_SECONDS:g} s; try again"
        ) from error
    try:
        yield
    finally:
        lock.release()


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp makes the file private (0600); a project file keeps its mode, a new one is readable (0644).
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        os.chmod(temporary, mode)
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def segment_yaml(root: Path, name: str, definition: dict[str, Any]) -> str:
    """The properties file of a saved segment's model (its definition under config.meta.cdp_segment)."""
    project = load_project(root)
    description = str(definition.get("description") or f"Saved segment {name}.")
    columns = [
        {
            "name": column,
            "data_type": project.fields[source],
            "description": "Member." if column == "customer_id" else f"customers.{source}.",
            **({"data_tests": ["unique", "not_null"]} if column == "customer_id" else {}),
        }
        for column, source in MEMBER_COLUMNS.items()
    ]
    model = {
        "name": f"seg_{name}",
        "description": description,
        "config": {"contract": {"enforced": True}, "meta": {"cdp_segment": definition}},
        "columns": columns,
    }
    return _dump({"version": 2, "models": [model]})


def save_segment(root: Path, name: str, definition: Any, overwrite: bool = False) -> dict[str, Any]:
    """Validate a definition against the project (with this segment in it) and write its two files:
    seg_<name>.yml (the definition) and seg_<name>.sql (the one-line model). Returns the paths, the YAML and
    the rendered WHERE clause."""
    _checked_name(name, "segment name")
    with _project_lock(root):
        return _save_segment(root, name, definition, overwrite)


def _save_segment(root: Path, name: str, definition: Any, overwrite: bool) -> dict[str, Any]:
    if not isinstance(definition, dict):
        raise ConfigError(f"segment {name}: the definition must be a mapping with a rule")
    project = load_project(root)
    path = saved_segment_file(root, name)
    if name in project.segments and not path.exists():
        raise ConfigError(f"segment {name} is already declared in {project.origins[name]}")
    if path.exists() and not overwrite:
        _, existing = read_saved_segment(root, path)
        if existing != definition:
            raise ConfigError(
                f"{path.relative_to(root)}: a different segment {name} is saved there; pass overwrite to replace it"
            )
    project.segments[name] = definition
    project.origins[name] = f"{path.relative_to(root)}: models.seg_{name}.config.meta.cdp_segment"
    where_sql = render_rule(project, name, definition)
    for other, other_definition in project.segments.items():
        if other != name:
            render_rule(
                project, other, other_definition
            )  # a segment that refers to this one must still render
    text = segment_yaml(root, name, definition)
    sql_path = root / SAVED_FOLDER / f"seg_{name}.sql"
    created_sql = not sql_path.exists()
    _write_atomically(sql_path, SAVED_SQL)
    try:
        _write_atomically(path, text)
    except BaseException:
        if created_sql:
            sql_path.unlink(missing_ok=True)
        raise
    return {
        "yaml_path": str(path.relative_to(root)),
        "sql_path": str(sql_path.relative_to(root)),
        "yaml": text,
        "where": where_sql,
    }


def _refuse_taken_exposure(root: Path, name: str, own_file: Path) -> None:
    """dbt refuses two exposures of one name: a sync name declared in another file is refused here first."""
    for path in sorted((root / "models").rglob("*.yml")):
        if path == own_file:
            continue
        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue  # not ours to judge here; dbt names it
        exposures = document.get("exposures") if isinstance(document, dict) else None
        if any(isinstance(item, dict) and item.get("name") == name for item in exposures or []):
            raise ConfigError(
                f"sync name {name} is taken: {path.relative_to(root)} declares an exposure of that name"
            )


def attach_sync(
    root: Path,
    segment: str,
    sync_name: str,
    destination: str,
    mode: str = "upsert",
    fields: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    schedule: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Declare a sync of a saved segment's model to a destination: one exposure in
    models/activation/declared/<sync_name>.yml, checked by the sync service's own parser first."""
    from reverse_etl.destinations import REGISTRY
    from reverse_etl.sync.config import Relation, parse_sync

    _checked_name(segment, "segment name")
    _checked_name(sync_name, "sync name")
    if not saved_segment_file(root, segment).exists():
        raise ConfigError(f"segment {segment} is not saved in {SAVED_FOLDER}; save it first")
    if destination not in REGISTRY:
        raise ConfigError(f"unknown destination '{destination}'; use one of {', '.join(sorted(REGISTRY))}")
    model = f"seg_{segment}"
    unknown = sorted(set((fields or {}).values()) - set(MEMBER_COLUMNS))
    if unknown:
        raise ConfigError(
            f"fields: column(s) {', '.join(unknown)} not in model {model} ({', '.join(MEMBER_COLUMNS)})"
        )
    settings: dict[str, Any] = {
        "model": model,
        "destination": destination,
        "mode": mode,
        "primary_key": "customer_id",
    }
    if fields:
        settings["fields"] = dict(fields)
    if options:
        settings["options"] = dict(options)
    if schedule:
        settings["schedule"] = schedule
    path = root / SYNC_FOLDER / f"{sync_name}.yml"
    exposure = {
        "name": sync_name,
        "type": "application",
        "owner": {"name": "Marketing operations"},
        "description": f"Sync of saved segment {segment} to {destination}.",
        "depends_on": [f"ref('{model}')"],
        "config": {"meta": {"cdp_sync": settings}},
    }
    parse_sync(
        {**exposure, "original_file_path": str(path.relative_to(root))},
        {model: Relation(None, "segments", model)},
    )
    text = _dump({"version": 2, "exposures": [exposure]})
    with _project_lock(root):
        _refuse_taken_exposure(root, sync_name, path)
        if path.exists() and not overwrite and path.read_text() != text:
            raise ConfigError(
                f"{path.relative_to(root)}: a different sync {sync_name} is declared there; pass overwrite to replace it"
            )
        _write_atomically(path, text)
    return {"yaml_path": str(path.relative_to(root)), "yaml": text}
