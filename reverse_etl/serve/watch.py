"""A sync declared or edited by hand while `cdp serve` runs: the scheduler notices the change to the project's
files at its next check and swaps in the syncs the project declares now, without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reverse_etl.alerts import emit
from reverse_etl.errors import CdpError
from reverse_etl.manifest import fingerprint

if TYPE_CHECKING:
    from reverse_etl.web.context import WebContext


class ProjectWatch:
    """Compares the project's fingerprint (every file dbt reads) with the one last seen. A change parses the
    project again and reloads the syncs; a project that does not parse, or declares an unusable schedule, is
    reported once per change and the running set is kept."""

    def __init__(self, context: WebContext, root: Path) -> None:
        self.context = context
        self.root = root
        self.seen = fingerprint(context.target, root)

    def check(self) -> bool:
        """Reload when the project changed since the last check; whether the running set was replaced."""
        now = fingerprint(self.context.target, self.root)
        if now == self.seen:
            return False
        self.seen = now
        before = set(self.context.syncs)
        try:
            syncs = self.context.reload_syncs(self.root, "if-changed")
        except CdpError as error:
            emit(
                "notice",
                message=f"the project changed; its syncs were not reloaded, the running set stays: {error}",
            )
            return False
        added, removed = sorted(set(syncs) - before), sorted(before - set(syncs))
        emit(
            "notice",
            message="the project changed; syncs reloaded",
            syncs=len(syncs),
            added=added,
            removed=removed,
        )
        return True
