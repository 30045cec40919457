"""The project's dbt manifest, parsed again only when the project changed.

Parsing the project costs seconds on every command; the manifest dbt already wrote is as good as a fresh
one while no project file changed. A fingerprint of the project (the content of every file dbt reads, the
target, and the environment variables those files name through env_var()) is kept beside the manifest;
a command re-parses when the fingerprint differs or the manifest is missing."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from reverse_etl.project import Target, project_dir, target_dir

FINGERPRINT_FILE = "cdp_manifest_fingerprint.json"
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml", "selectors.yml")
PROJECT_FOLDERS_KEYS = (
    "model-paths",
    "macro-paths",
    "seed-paths",
    "test-paths",
    "analysis-paths",
    "snapshot-paths",
)
DEFAULT_FOLDERS = ("models", "macros", "seeds", "data-tests", "tests", "analyses", "snapshots")
ENV_VAR_CALL = re.compile(rb"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


def _project_folders(root: Path) -> list[Path]:
    import yaml

    try:
        config = yaml.safe_load((root / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        config = {}
    folders: set[str] = set()
    for key in PROJECT_FOLDERS_KEYS:
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, list):
            folders.update(str(item) for item in value)
    return [root / folder for folder in sorted(folders or set(DEFAULT_FOLDERS))]


def fingerprint(target: Target, root: Path | None = None) -> str:
    """A digest that changes whenever a parse could give a different manifest."""
    root = root or project_dir()
    digest = hashlib.sha256(f"target {target.name} {target.type}\n".encode())
    env_names: set[bytes] = set()
    files = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    for folder in _project_folders(root):
        if folder.is_dir():
            files.extend(sorted(path for path in folder.rglob("*") if path.is_file()))
    for path in files:
        content = path.read_bytes()
        env_names.update(ENV_VAR_CALL.findall(content))
        digest.update(f"{path.relative_to(root)} {len(content)}\n".encode())
        digest.update(hashlib.sha256(content).digest())
    for name in sorted(env_names):
        value = os.environ.get(name.decode())
        digest.update(name + b"=" + (b"\x00unset" if value is None else value.encode()) + b"\n")
    return digest.hexdigest()


def current_manifest(target: Target, root: Path | None = None) -> Path:
    """target/manifest.json, after `dbt parse` when the project changed since it was written."""
    from reverse_etl.dbt import run_dbt

    root = root or project_dir()
    manifest = target_dir(root) / "manifest.json"
    now = fingerprint(target, root)
    if manifest_is_current(target, root, now):
        return manifest
    run_dbt(["parse", "--quiet"], target=target.name, root=root)
    (target_dir(root) / FINGERPRINT_FILE).write_text(json.dumps(_stamp(now, manifest)))
    return manifest


def manifest_is_current(target: Target, root: Path | None = None, project: str | None = None) -> bool:
    """Whether target/manifest.json is what a parse of the project as it is now would write."""
    root = root or project_dir()
    manifest = target_dir(root) / "manifest.json"
    if not manifest.is_file():
        return False
    project = project or fingerprint(target, root)
    return _stamped(target_dir(root) / FINGERPRINT_FILE) == _stamp(project, manifest)


def _stamp(project: str, manifest: Path) -> dict[str, object]:
    """The project's fingerprint and the manifest file it was parsed into: any other dbt invocation that
    rewrites the manifest (other --vars, another target) makes the stamp stale, so the next command parses."""
    status = manifest.stat()
    return {"fingerprint": project, "manifest": [status.st_size, status.st_mtime_ns]}


def _stamped(stamp: Path) -> dict[str, object] | None:
    try:
        value = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
