"""Local fake of Salesforce's sObject Collections: bearer auth (401 INVALID_SESSION_ID), upsert of at most
200 records by external id with one UpsertResult per record in order (REQUIRED_FIELD_MISSING,
INVALID_EMAIL_ADDRESS, seeded UNABLE_TO_LOCK_ROW), allOrNone rollback, delete of at most 200 ids
(ENTITY_IS_DELETED for ids already deleted), a daily API request allocation answered with 403
REQUEST_LIMIT_EXCEEDED, the Sforce-Limit-Info header on every answer, and the records it holds."""

from __future__ import annotations

import collections
import itertools
import re
from typing import Any

from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response

MAX_RECORDS = 200
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
KEY_PREFIXES = {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006"}
REQUIRED_ON_CREATE = {"Contact": ["LastName"], "Lead": ["LastName", "Company"], "Account": ["Name"]}


def errors(status: int, code: str, message: str) -> HttpError:
    """Salesforce's REST error body: a JSON array of {message, errorCode}."""
    return HttpError(status, [{"message": message, "errorCode": code}])


def item_error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


class SalesforceFake(FakeService):
    name = "salesforce"

    def __init__(
        self,
        faults: Faults | None = None,
        token: str = "sandbox-salesforce-token",
        daily_api_requests: int = 100_000,
    ) -> None:
        super().__init__(faults)
        self.token = token
        self.daily_api_requests = daily_api_requests
        self.api_requests = 0
        self.limit_refusals = 0
        # sObject -> external id value -> record (with its Id); deleted ids answer ENTITY_IS_DELETED.
        self.records: dict[str, dict[str, dict[str, Any]]] = collections.defaultdict(dict)
        self.deleted: set[str] = set()
        self._by_id: dict[str, tuple[str, str]] = {}
        self._ids = itertools.count(1)
        self.route("PATCH", "/services/data/{version}/composite/sobjects/{sobject}/{field}", self.upsert)
        self.route("PATCH", "/services/data/{version}/composite/sobjects", self.update)
        self.route("DELETE", "/services/data/{version}/composite/sobjects", self.delete)
        # sObject -> the external id field its records are keyed by in `records` (the field upserts name).
        self.key_fields: dict[str, str] = {}

    def environment(self, url: str) -> dict[str, str]:
        return {"CDP_SALESFORCE_INSTANCE_URL": url, "CDP_SALESFORCE_TOKEN": self.token}

    def check_auth(self, request: Request) -> None:
        if request.header("authorization") != f"Bearer {self.token}":
            raise errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def _limit_info(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_requests}/{self.daily_api_requests}"}

    def rate_limited(self, request: Request) -> Response | None:
        with self.lock:
            if self.api_requests >= self.daily_api_requests:
                self.limit_refusals += 1
                return Response(
                    403,
                    [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                    self._limit_info(),
                )
            self.api_requests += 1
        return None

    def injected_fault(self, request: Request) -> Response | None:
        fault = super().injected_fault(request)
        if fault is not None:
            code = "SERVER_UNAVAILABLE" if fault.status >= 500 else "REQUEST_LIMIT_EXCEEDED"
            fault.body = [{"message": "injected fault", "errorCode": code}]
        return fault

    def _version(self, request: Request) -> None:
        match = re.fullmatch(r"v(\d+)\.0", request.params["version"])
        if match is None or int(match.group(1)) < 46:
            raise errors(404, "NOT_FOUND", "The requested resource does not exist")

    def _new_id(self, sobject: str) -> str:
        return f"{KEY_PREFIXES.get(sobject, 'a00')}{next(self._ids):012d}AAA"

    def upsert(self, request: Request) -> Response:
        self._version(request)
        sobject, field = request.params["sobject"], request.params["field"]
        body = request.json()
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            raise errors(400, "JSON_PARSER_ERROR", "records: a non-empty array of sObjects is required")
        if len(records) > MAX_RECORDS:
            raise errors(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
            )
        for record in records:
            kind = ((record or {}).get("attributes") or {}).get("type") if isinstance(record, dict) else None
            if kind is None:
                raise errors(
                    400,
                    "INVALID_TYPE",
                    "When using sObject collections, you must set the type attribute on each object",
                )
            if kind != sobject:
                raise errors(400, "INVALID_TYPE", f"Records must all be of type {sobject}, got {kind}")
            if "Id" in record:
                raise errors(400, "INVALID_FIELD", "Don't set Id in an upsert by external id")
        all_or_none = bool(body.get("allOrNone", False))
        with self.lock:
            self.key_fields.setdefault(sobject, field)
            store = self.records[sobject]
            outcomes: list[dict[str, Any]] = []
            changes: list[tuple[str, dict[str, Any]]] = []
            for record in records:
                values = {name: value for name, value in record.items() if name != "attributes"}
                key = values.get(field)
                problem = self._problem(sobject, field, key, values, store)
                if problem is not None:
                    outcomes.append({"success": False, "errors": [problem], "created": False})
                    continue
                existing = store.get(str(key))
                target = existing or {"Id": self._new_id(sobject)}
                changes.append((str(key), {**target, **values}))
                outcomes.append(
                    {"id": target["Id"], "success": True, "errors": [], "created": existing is None}
                )
            if all_or_none and any(not outcome["success"] for outcome in outcomes):
                rolled_back = item_error(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid",
                )
                outcomes = [
                    o if not o["success"] else {"success": False, "errors": [rolled_back], "created": False}
                    for o in outcomes
                ]
            else:
                store.update(changes)
                self._by_id.update((record["Id"], (sobject, key)) for key, record in changes)
        return Response(200, outcomes, self._limit_info())

    def update(self, request: Request) -> Response:
        """Update by record id (`id` in each record): any field may change, the external id field included (the
        record then answers to its new value); a value another record holds is DUPLICATE_VALUE, a deleted
        record ENTITY_IS_DELETED, an unknown id INVALID_CROSS_REFERENCE_KEY."""
        self._version(request)
        body = request.json()
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            raise errors(400, "JSON_PARSER_ERROR", "records: a non-empty array of sObjects is required")
        if len(records) > MAX_RECORDS:
            raise errors(
                400, "EXCEEDED_ID_LIMIT", f"cannot update more than {MAX_RECORDS} records in this call"
            )
        outcomes: list[dict[str, Any]] = []
        with self.lock:
            for record in records:
                if not isinstance(record, dict) or not (record.get("attributes") or {}).get("type"):
                    raise errors(400, "INVALID_TYPE", "sObject type attribute is required on each record")
                record_id = str(record.get("id") or record.get("Id") or "")
                values = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
                problem = self._update_problem(record_id, values)
                if problem is not None:
                    outcomes.append({"success": False, "errors": [problem]})
                    continue
                sobject, key = self._by_id[record_id]
                store, field = self.records[sobject], self.key_fields[sobject]
                new_key = str(values.get(field, key))
                stored = store.pop(key)
                stored.update(values)
                store[new_key] = stored
                self._by_id[record_id] = (sobject, new_key)
                outcomes.append({"id": record_id, "success": True, "errors": []})
        return Response(200, outcomes, self._limit_info())

    def _update_problem(self, record_id: str, values: dict[str, Any]) -> dict[str, Any] | None:
        if record_id in self.deleted:
            return item_error("ENTITY_IS_DELETED", "entity is deleted")
        if record_id not in self._by_id:
            return item_error("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id {record_id}")
        sobject, key = self._by_id[record_id]
        field = self.key_fields[sobject]
        holder = self.records[sobject].get(str(values.get(field, key)))
        if holder is not None and holder["Id"] != record_id:
            return item_error(
                "DUPLICATE_VALUE",
                f"duplicate value found: {field} duplicates value on record with id: {holder['Id']}",
                [field],
            )
        email = values.get("Email")
        if email not in (None, "") and not EMAIL.match(str(email)):
            return item_error("INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {email}", ["Email"])
        if self.faults.reject_record(str(values.get(field, key))):
            return item_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
        return None

    def _problem(
        self, sobject: str, field: str, key: Any, values: dict[str, Any], store: dict[str, dict[str, Any]]
    ) -> dict[str, Any] | None:
        if key in (None, ""):
            return item_error("MISSING_ARGUMENT", f"{field} not specified")
        email = values.get("Email")
        if email not in (None, "") and not EMAIL.match(str(email)):
            return item_error("INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {email}", ["Email"])
        if str(key) not in store:
            missing = [name for name in REQUIRED_ON_CREATE.get(sobject, []) if values.get(name) in (None, "")]
            if missing:
                return item_error(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
        if self.faults.reject_record(str(key)):
            return item_error(
                "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
            )
        return None

    def delete(self, request: Request) -> Response:
        ids = [value for value in ",".join(request.query.get("ids", [])).split(",") if value]
        if not ids:
            raise errors(400, "MISSING_ARGUMENT", "ids: a comma-separated list of record ids is required")
        if len(ids) > MAX_RECORDS:
            raise errors(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot delete more than {MAX_RECORDS} records",
            )
        outcomes: list[dict[str, Any]] = []
        with self.lock:
            for record_id in ids:
                location = self._by_id.get(record_id)
                if (
                    location is not None
                    and self.records[location[0]].get(location[1], {}).get("Id") != record_id
                ):
                    location = None
                if not ID.match(record_id):
                    outcomes.append(
                        {
                            "success": False,
                            "errors": [item_error("MALFORMED_ID", f"malformed id {record_id}")],
                        }
                    )
                elif location is not None:
                    del self.records[location[0]][location[1]]
                    del self._by_id[record_id]
                    self.deleted.add(record_id)
                    outcomes.append({"id": record_id, "success": True, "errors": []})
                elif record_id in self.deleted:
                    outcomes.append(
                        {"success": False, "errors": [item_error("ENTITY_IS_DELETED", "entity is deleted")]}
                    )
                else:
                    outcomes.append(
                        {
                            "success": False,
                            "errors": [
                                item_error(
                                    "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id {record_id}"
                                )
                            ],
                        }
                    )
        return Response(200, outcomes, self._limit_info())
