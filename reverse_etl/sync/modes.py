"""What each sync mode does with each kind of change, and the blast-radius guard that refuses a run which
would touch more of the destination than the sync allows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reverse_etl.destinations.base import Mode, Operation
from reverse_etl.errors import RefusedRun

if TYPE_CHECKING:
    from reverse_etl.sync.config import SyncConfig
    from reverse_etl.sync.state import Diff

# What each mode does with each kind of change (None: nothing is sent; a removed row is forgotten).
OPERATIONS: dict[Mode, dict[str, Operation | None]] = {
    Mode.UPSERT: {"added": Operation.UPSERT, "changed": Operation.UPSERT, "removed": None},
    Mode.UPDATE: {"added": Operation.UPDATE, "changed": Operation.UPDATE, "removed": None},
    Mode.INSERT: {"added": Operation.INSERT, "changed": None, "removed": None},
    Mode.MIRROR: {"added": Operation.UPSERT, "changed": Operation.UPSERT, "removed": Operation.DELETE},
    Mode.AUDIENCE_ADD: {"added": Operation.ADD, "changed": None, "removed": None},
    Mode.AUDIENCE_REMOVE: {"added": Operation.REMOVE, "changed": None, "removed": None},
    Mode.AUDIENCE_REPLACE: {"added": Operation.ADD, "changed": None, "removed": Operation.REMOVE},
}
REMOVING = frozenset({Operation.DELETE, Operation.REMOVE})


def kinds_sent(mode: Mode) -> list[str]:
    """The change kinds a mode sends (in the order the diff names them)."""
    return [kind for kind, operation in OPERATIONS[mode].items() if operation is not None]


def removes(mode: Mode) -> bool:
    """Whether rows that leave the model are removed at the destination (else the sync forgets them)."""
    return OPERATIONS[mode]["removed"] is not None


def guard_blast_radius(sync: SyncConfig, diff: Diff, allow_mass_change: bool) -> None:
    """Refuse a run that would remove or change more than sync.max_change_share of what was last synced, or
    mirror an empty model. A resend because the engine's own row encoding changed is not a change of the data:
    it is one controlled resend, and only removals count then."""
    if allow_mass_change:
        return
    operations = OPERATIONS[sync.mode]
    if (
        sync.mode in (Mode.MIRROR, Mode.AUDIENCE_REPLACE)
        and diff.model_rows == 0
        and diff.previously_synced > 0
    ):
        raise RefusedRun(
            f"{sync.name}: the model {sync.model} is empty; mirroring it would remove all {diff.previously_synced:,} "
            "rows from the destination. Refused; rerun with --allow-mass-change if that is intended"
        )
    changed = diff.changed if operations["changed"] else 0
    if diff.resend.controlled:
        changed = 0
    touched = changed + (diff.removed if operations["removed"] else 0)
    if diff.previously_synced and touched > sync.max_change_share * diff.previously_synced:
        why = f" ({diff.resend.reason})" if diff.resend.reason and changed else ""
        raise RefusedRun(
            f"{sync.name}: this run would change or remove {touched:,} of {diff.previously_synced:,} synced rows "
            f"({touched / diff.previously_synced:.0%}, limit {sync.max_change_share:.0%}){why}. Refused; rerun with "
            "--allow-mass-change if that is intended"
        )
