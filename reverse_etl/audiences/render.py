"""The segment macros of macros/segments/, run outside dbt: the one renderer of segment rules, for the dbt
model and for `cdp segments validate`, the preview and the audience builder alike.

The macro files are loaded into a sandboxed Jinja environment with a small host giving them the part of dbt's
context they use: `return(...)`, `exceptions.raise_compiler_error`, `modules.re`, `adapter.dispatch` and the
`do` statement. A compile error becomes a ConfigError carrying the macro's message (file, segment, field)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.ext import do
from jinja2.sandbox import SandboxedEnvironment

from reverse_etl.errors import ConfigError

MACRO = re.compile(r"{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(")


class _Return(Exception):  # noqa: N818 - control flow for dbt's return(), never seen outside this module
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


def _return(value: Any) -> None:
    raise _Return(value)


def _raise_compiler_error(message: str) -> None:
    raise ConfigError(str(message))


class _Namespace:
    def __init__(self, **members: Any) -> None:
        self.__dict__.update(members)


class SegmentMacros:
    """The macros of one folder, callable from Python by name (`macros.call("segment_rule_sql", ...)`)."""

    def __init__(self, folder: Path, adapter_type: str = "duckdb") -> None:
        self.adapter_type = adapter_type
        environment = SandboxedEnvironment(extensions=[do], undefined=StrictUndefined)
        self._shared: dict[str, Any] = dict(environment.globals)
        self._macros: dict[str, Callable[..., Any]] = {}
        self._shared.update(
            {
                "return": _return,
                "exceptions": _Namespace(raise_compiler_error=_raise_compiler_error),
                "modules": _Namespace(re=re),
                "adapter": _Namespace(dispatch=self._dispatch),
                "cdp": _Namespace(),
            }
        )
        for path in sorted(folder.glob("*.sql")):
            text = path.read_text()
            module = environment.from_string(text).make_module(vars=self._shared, shared=True)
            for name in MACRO.findall(text):
                self._macros[name] = self._wrap(getattr(module, name))
        self._shared.update(self._macros)
        self._shared["cdp"] = _Namespace(**self._macros)

    @staticmethod
    def _wrap(macro: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return str(macro(*args, **kwargs))
            except _Return as returned:
                return returned.value

        return call

    def _dispatch(self, name: str, package: str = "cdp") -> Callable[..., Any]:
        for candidate in (f"{self.adapter_type}__{name}", f"default__{name}"):
            if candidate in self._macros:
                return self._macros[candidate]
        raise ConfigError(f"macros/segments: no macro {name} for {self.adapter_type}")

    def call(self, name: str, *args: Any) -> Any:
        """Run one macro; an input the macros did not foresee is a ConfigError too, never a traceback."""
        try:
            return self._macros[name](*args)
        except ConfigError:
            raise
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as error:
            raise ConfigError(
                f"macros/segments: {name} cannot render this input ({type(error).__name__}: {error})"
            ) from error


@lru_cache(maxsize=8)
def _cached_macros(folder: Path, adapter_type: str, stamp: tuple[tuple[str, int], ...]) -> SegmentMacros:
    return SegmentMacros(folder, adapter_type)


def segment_macros(folder: Path, adapter_type: str = "duckdb") -> SegmentMacros:
    """The macros of a folder, loaded again only when a file of it changed."""
    stamp = tuple((path.name, path.stat().st_mtime_ns) for path in sorted(folder.glob("*.sql")))
    return _cached_macros(folder.resolve(), adapter_type, stamp)
