"""Klaviyo profiles found by the reference a row was confirmed with (`<identifier>:<value>`, 100 values a
lookup) and acted on by id: a row whose identifier changed is imported with its profile's id, so that profile is
updated rather than a second created; a row leaving the model (mirror) has its profiles taken off the list,
1,000 profile ids a call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reverse_etl.destinations.base import BatchResult, Record, RecordResult
from reverse_etl.destinations.klaviyo_client import KlaviyoClient, failure
from reverse_etl.destinations.klaviyo_config import MAX_LIST_REMOVALS, PAGE_SIZE
from reverse_etl.destinations.klaviyo_rows import by_identifier, moved, normal
from reverse_etl.errors import FatalDestinationError
from reverse_etl.http import HttpRequest


class ProfileLookups:
    """Looks profiles up and takes them off the list through one sync's client."""

    def __init__(self, client: KlaviyoClient) -> None:
        self.client = client
        self.config = client.config
        self.http = client.http

    @staticmethod
    def _references(records: Sequence[Record]) -> tuple[dict[str, list[tuple[Record, str]]], list[Record]]:
        """Rows to take off the list, by identifier name with their value; and rows never confirmed."""
        return by_identifier([(record, record.destination_id or "") for record in records])

    def _moved(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """Rows whose identifier changed, with the reference they were last confirmed with."""
        identifier = self.config.identifier
        return [
            (record, reference) for record in records if (reference := moved(record, identifier)) is not None
        ]

    def moved_plan(self, writes: Sequence[Record]) -> list[HttpRequest]:
        """The lookups of the profiles of rows whose identifier changed (their ids then go in the import)."""
        return self._lookup_plan(by_identifier(self._moved(writes))[0])

    def removal_plan(self, removals: Sequence[Record]) -> list[HttpRequest]:
        """The lookups of the profiles of rows leaving the model (the list removal that follows names the ids
        found)."""
        return self._lookup_plan(self._references(removals)[0])

    def _lookup_plan(self, by_name: Mapping[str, Sequence[tuple[Record, str]]]) -> list[HttpRequest]:
        """The profile lookups for rows by identifier name with their value, 100 values a lookup."""
        return [
            self.client.lookup_request(name, [value for _, value in chunk[start : start + PAGE_SIZE]])
            for name, chunk in by_name.items()
            for start in range(0, len(chunk), PAGE_SIZE)
        ]

    def _lookup(self, name: str, values: list[str]) -> dict[str, list[str]]:
        """Profile ids by the normalized value of identifier `name`; raises FatalDestinationError."""
        request = self.client.lookup_request(name, values)
        ids: dict[str, list[str]] = {}
        for profile in self.client.pages(request.url, request.params or {}):
            value = (profile.get("attributes") or {}).get(name)
            ids.setdefault(normal(name, value), []).append(str(profile["id"]))
        return ids

    def previous_profiles(self, records: Sequence[Record]) -> tuple[dict[str, str], BatchResult]:
        """For rows whose identifier changed: the id of the profile the sync imported them as (found by the old
        value), so the import updates that profile (its identifier included) instead of creating a second.
        A row whose old profile is gone is imported afresh; a failed lookup rejects the row."""
        by_name, _ = by_identifier(self._moved(records))
        profile_ids: dict[str, str] = {}
        refused = BatchResult()
        for name, named in by_name.items():
            for start in range(0, len(named), PAGE_SIZE):
                chunk = named[start : start + PAGE_SIZE]
                try:
                    found = self._lookup(name, [value for _, value in chunk])
                except FatalDestinationError as error:
                    refused.results += BatchResult.all_failed([r for r, _ in chunk], failure(error)).results
                    continue
                profile_ids.update((r.key, found[value][0]) for r, value in chunk if found.get(value))
        return profile_ids, refused

    def remove(self, records: Sequence[Record]) -> BatchResult:
        """Find each row's profiles by the identifier it was imported with (100 a lookup), then take them off
        the list, 1,000 profile ids a call. A row never confirmed, or whose profile is gone, has nothing to remove."""
        if not self.config.list_id:
            return BatchResult.all_failed(records, "klaviyo removals need option list_id (the list to leave)")
        by_name, unknown = self._references(records)
        outcome = BatchResult.all_ok(unknown)
        found: list[tuple[Record, list[str]]] = []
        for name, rows in by_name.items():
            for start in range(0, len(rows), PAGE_SIZE):
                chunk = rows[start : start + PAGE_SIZE]
                try:
                    ids = self._lookup(name, [value for _, value in chunk])
                except FatalDestinationError as error:
                    outcome.results += BatchResult.all_failed([r for r, _ in chunk], failure(error)).results
                    continue
                for record, value in chunk:
                    if ids.get(value):
                        found.append((record, ids[value]))
                    else:
                        outcome.results.append(RecordResult(record.key, ok=True))
        group: list[tuple[Record, list[str]]] = []
        for item in [*found, None]:
            if item is not None and sum(len(ids) for _, ids in group) + len(item[1]) <= MAX_LIST_REMOVALS:
                group.append(item)
                continue
            if group:
                outcome.results += self._remove_group(group).results
            group = [item] if item is not None else []
        return outcome

    def _remove_group(self, group: list[tuple[Record, list[str]]]) -> BatchResult:
        records = [record for record, _ in group]
        try:
            # Removing a profile that is no longer on the list is harmless: the call may be repeated.
            self.http.send(self.client.remove_request([i for _, ids in group for i in ids]), idempotent=True)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, failure(error))
        return BatchResult.all_ok(records)
