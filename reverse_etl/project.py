"""Where the dbt project lives and how to reach the warehouse its profile points at."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from reverse_etl.errors import ConfigError, WarehouseError

PROFILE_NAME = "cdp"


def project_dir() -> Path:
    """The dbt project root: $CDP_PROJECT_DIR, else the nearest folder upwards holding dbt_project.yml."""
    configured = os.environ.get("CDP_PROJECT_DIR")
    if configured:
        path = Path(configured).resolve()
        if not (path / "dbt_project.yml").is_file():
            raise ConfigError(
                f"CDP_PROJECT_DIR={configured} holds no dbt_project.yml; point it at the project root"
            )
        return path
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "dbt_project.yml").is_file() and (folder / "profiles.yml").is_file():
            return folder
    packaged = Path(__file__).resolve().parent.parent
    if (packaged / "dbt_project.yml").is_file():
        return packaged
    raise ConfigError(
        "no dbt_project.yml found here or above; run cdp from the project folder or set CDP_PROJECT_DIR"
    )


def target_dir(root: Path | None = None) -> Path:
    """Where dbt writes manifest.json and run_results.json: $DBT_TARGET_PATH (dbt's own setting, relative to
    the project root) or the project's target/ folder."""
    root = root or project_dir()
    return root / os.environ.get("DBT_TARGET_PATH", "target")


@dataclass(frozen=True)
class Target:
    """One output of profiles.yml, rendered with the current environment."""

    name: str
    type: str
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""

    def describe(self) -> str:
        """Where this target points, safe to print (no password)."""
        if self.type == "duckdb":
            return f"duckdb file {self.path}"
        if self.type == "spark":
            return f"spark {self.host} (warehouse {self.path})"
        return f"postgres {self.user}@{self.host}:{self.port}/{self.dbname}"


def env_switch(variable: str, default: bool) -> bool:
    """A true/false setting from the environment (unset or empty: `default`); anything else is refused."""
    value = os.environ.get(variable, "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false"):
        raise ConfigError(f"{variable} must be true or false, got {value!r}")
    return value == "true"


def _env_var(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ConfigError(f"profiles.yml needs the environment variable {name}; set it or give a default")
    return value


def _render(value: Any) -> Any:
    if isinstance(value, str) and "{{" in value:
        environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
        environment.filters["as_number"] = lambda v: int(v)
        return environment.from_string(value).render(env_var=_env_var)
    return value


def load_target(target_name: str | None = None, root: Path | None = None) -> Target:
    """Read profiles.yml the way dbt does (env_var lookups included) and return the chosen output."""
    root = root or project_dir()
    profiles_file = root / "profiles.yml"
    try:
        profiles = yaml.safe_load(profiles_file.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{profiles_file.name}: cannot read it ({error})") from error
    profile = (profiles or {}).get(PROFILE_NAME)
    if not isinstance(profile, dict) or "outputs" not in profile:
        raise ConfigError(f"{profiles_file.name}: no profile '{PROFILE_NAME}' with outputs")
    name = target_name or os.environ.get("CDP_TARGET") or _render(profile.get("target", "duckdb"))
    outputs = profile["outputs"]
    if name not in outputs:
        raise ConfigError(
            f"{profiles_file.name}: unknown target '{name}'; choose one of {', '.join(sorted(outputs))}"
        )
    output = {key: _render(value) for key, value in outputs[name].items()}
    kind = output.get("type")
    if kind == "duckdb":
        path = Path(str(output.get("path", "cdp.duckdb")))
        if not path.is_absolute():
            path = Path.cwd() / path
        return Target(name=name, type="duckdb", path=str(path))
    if kind == "postgres":
        try:
            port = int(output.get("port", 5432))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{profiles_file.name}: outputs.{name}.port must be a number") from error
        return Target(
            name=name,
            type="postgres",
            host=str(output.get("host", "127.0.0.1")),
            port=port,
            user=str(output.get("user", "postgres")),
            password=str(output.get("password", "")),
            dbname=str(output.get("dbname", "cdp")),
        )
    if kind == "spark":
        from reverse_etl.spark import spark_settings

        settings = spark_settings(root)
        return Target(name=name, type="spark", path=str(settings.warehouse_dir), host=settings.master)
    raise ConfigError(
        f"{profiles_file.name}: outputs.{name}.type '{kind}' is not supported (duckdb, postgres or spark)"
    )


def connect(target: Target) -> Any:
    """A DB-API connection to the target, or a WarehouseError naming what is wrong."""
    if target.type == "duckdb":
        import duckdb

        folder = Path(target.path).parent
        if not folder.is_dir():
            raise WarehouseError(f"DuckDB path {target.path}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK) or (
            Path(target.path).exists() and not os.access(target.path, os.W_OK)
        ):
            raise WarehouseError(f"DuckDB path {target.path} is not writable")
        try:
            return duckdb.connect(target.path)
        except duckdb.Error as error:
            raise WarehouseError(f"cannot open DuckDB file {target.path}: {error}") from error
    if target.type == "spark":
        from reverse_etl.spark import spark_connection

        return spark_connection()
    import psycopg2

    try:
        return psycopg2.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            dbname=target.dbname,
            connect_timeout=5,
        )
    except psycopg2.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WarehouseError(f"cannot reach {target.describe()}: {reason}") from error
