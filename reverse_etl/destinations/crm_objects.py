"""What the CRM object destinations (HubSpot, Salesforce) share: rows this sync created are updated by the id
the CRM gave them, rows new to the sync are upserted by an external key, and removals delete only what this
sync created. An update whose object was deleted in the CRM since comes back as "gone" and is upserted again,
as a new row would be."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from reverse_etl.destinations.base import BatchResult, Destination, Operation, Record
from reverse_etl.http import HttpRequest

REMOVING = (Operation.DELETE, Operation.REMOVE)


def split(records: Sequence[Record]) -> tuple[list[Record], list[Record], list[Record]]:
    """Rows this sync created (updated by id), new rows (upserted by external key), removals."""
    writes = [r for r in records if r.operation not in REMOVING]
    return (
        [r for r in writes if r.destination_id],
        [r for r in writes if not r.destination_id],
        [r for r in records if r.operation in REMOVING],
    )


class CrmObjectsDestination(Destination):
    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        updates, upserts, removals = split(records)
        updates = [r for r in updates if self._plannable(r)]
        upserts = [r for r in upserts if self._plannable(r)]
        known = [r for r in removals if r.destination_id]
        return (
            ([self._update_request(updates)] if updates else [])
            + ([self._upsert_request(upserts)] if upserts else [])
            + ([self._remove_request(known)] if known else [])
        )

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        outcome = BatchResult()
        updates, upserts, removals = split(records)
        if updates:
            updated, gone = self._update(updates)
            outcome.results += updated.results
            upserts += gone
        if upserts:
            outcome.results += self._upsert(upserts).results
        if removals:
            known = [r for r in removals if r.destination_id]
            # A record never confirmed has no CRM id: there is nothing of ours to remove.
            outcome.results += BatchResult.all_ok([r for r in removals if not r.destination_id]).results
            if known:
                outcome.results += self._remove(known).results
        return outcome

    def _plannable(self, record: Record) -> bool:
        """Whether a write of this row would be sent at all (a dry run lists only those)."""
        return True

    @abstractmethod
    def _update_request(self, records: Sequence[Record]) -> HttpRequest: ...

    @abstractmethod
    def _upsert_request(self, records: Sequence[Record]) -> HttpRequest: ...

    @abstractmethod
    def _remove_request(self, records: Sequence[Record]) -> HttpRequest: ...

    @abstractmethod
    def _update(self, records: Sequence[Record]) -> tuple[BatchResult, list[Record]]:
        """Results of the rows updated, and the rows whose object is gone from the CRM."""

    @abstractmethod
    def _upsert(self, records: Sequence[Record]) -> BatchResult: ...

    @abstractmethod
    def _remove(self, records: Sequence[Record]) -> BatchResult:
        """Remove rows that all carry the CRM id this sync was given."""
