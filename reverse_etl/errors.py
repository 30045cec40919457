"""Error classes. Each maps to one exit code in the CLI; none is ever swallowed silently."""

from __future__ import annotations

from typing import Any


class CdpError(Exception):
    """Base class: a problem the user can act on. The message is one line naming the problem."""

    exit_code = 1


class ConfigError(CdpError):
    """Invalid configuration or arguments: the message names the file, the key and the fix."""

    exit_code = 2


class WarehouseError(CdpError):
    """The warehouse is unreachable, unwritable, or a query against it failed."""

    exit_code = 3


class DbtError(CdpError):
    """dbt reported a failure (compile error, failing model or test)."""

    exit_code = 4


class SyncError(CdpError):
    """A sync could not run (lock held, blast-radius guard, destination refused the whole run)."""

    exit_code = 5


class RunLocked(SyncError):
    """Another run of the same sync, or another `cdp match` on the warehouse, is going (it holds the lock): nothing
    was done."""


class RefusedRun(SyncError):
    """The blast-radius guard refused a run that would change or remove too much of what was synced."""


class PartialFailure(CdpError):
    """A run finished, but some rows were rejected; they are recorded and retried next run."""

    exit_code = 6

    def __init__(self, message: str, summary: Any = None) -> None:
        super().__init__(message)
        self.summary = summary


class DestinationError(CdpError):
    """Base for errors raised while talking to a destination; carries the HTTP status and body when known."""

    exit_code = 5

    def __init__(self, message: str, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    def http_summary(self) -> str:
        """One line for a rejected row: the HTTP status and the start of the vendor's answer."""
        return f"HTTP {self.status}: {(self.body or str(self))[:300]}"


class RetryableDestinationError(DestinationError):
    """Rate limits, 5xx and connection problems: retried with backoff."""


class FatalDestinationError(DestinationError):
    """4xx and other errors that would fail again unchanged: never retried blindly."""


class DestinationAuthError(DestinationError):
    """The destination refused the credential (HTTP 401, or 403 to a request that carried one). Every further
    request would be refused the same way, so the run stops: the batches before are committed, the rows not
    sent stay pending, and none is recorded as rejected. Not a FatalDestinationError, so a destination that
    turns fatal answers into per-row rejects lets it through."""

    exit_code = 7
