"""What the Klaviyo fake holds and the rules a profile must meet: profiles indexed by each identifier (emails
compared lower-cased), lists and their members, import jobs, deletion requests; the identifier checks an
import applies, and creating or updating a profile (by id, else by a matching identifier)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from typing import Any

from reverse_etl.sandbox.server import FakeService, Faults

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
IDENTIFIERS = ("external_id", "email", "phone_number")
ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class KlaviyoState(FakeService):
    """The fake's data; the route classes of the fake build on it."""

    def __init__(self, faults: Faults | None, list_ids: tuple[str, ...], polls_until_complete: int) -> None:
        super().__init__(faults)
        self.polls_until_complete = polls_until_complete
        self.profiles: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, set[str]] = {list_id: set() for list_id in list_ids}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.deletion_requests: list[dict[str, Any]] = []
        self.largest_body = 0
        self._index: dict[tuple[str, str], str] = {}
        self._state = threading.RLock()

    @staticmethod
    def _problem(attributes: dict[str, Any]) -> tuple[str, str, str] | None:
        if not any(attributes.get(name) for name in IDENTIFIERS):
            return "invalid", "email", "A profile needs one of email, phone_number or external_id."
        email = attributes.get("email")
        if email and not EMAIL.match(str(email)):
            return "invalid", "email", f"Invalid email address: {email}."
        phone = attributes.get("phone_number")
        if phone and not E164.match(str(phone)):
            return "invalid", "phone_number", f"Invalid phone number format: {phone}. Use E.164."
        return None

    @staticmethod
    def _key(name: str, value: Any) -> tuple[str, str]:
        return name, str(value).strip().lower() if name == "email" else str(value).strip()

    def _find(self, attributes: dict[str, Any]) -> str | None:
        """The profile an import matches: by external_id, then email, then phone number."""
        for name in IDENTIFIERS:
            if attributes.get(name) and self._key(name, attributes[name]) in self._index:
                return self._index[self._key(name, attributes[name])]
        return None

    def _conflict(self, profile_id: str | None, attributes: dict[str, Any]) -> tuple[str, str, str] | None:
        """A profile named by id must exist, and the identifiers it is given must not be another profile's."""
        if profile_id is None:
            return None
        if profile_id not in self.profiles:
            return "not_found", "id", f"A profile with id {profile_id} does not exist."
        for name in IDENTIFIERS:
            holder = self._index.get(self._key(name, attributes[name])) if attributes.get(name) else None
            if holder is not None and holder != profile_id:
                return (
                    "duplicate_profile",
                    name,
                    f"A profile already exists with one of these identifiers ({name}).",
                )
        return None

    def _upsert(self, attributes: dict[str, Any], profile_id: str | None = None) -> str:
        """Update the profile named by id (its identifiers may change), else the one the identifiers match, else
        create one."""
        profile_id = profile_id or self._find(attributes)
        if profile_id is None:
            profile_id = "01" + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))
            self.profiles[profile_id] = {"properties": {}, "location": {}, "created": now()}
        stored = self.profiles[profile_id]
        for name, value in attributes.items():
            if name == "properties":
                stored["properties"].update(value or {})
            elif name == "location":
                stored["location"].update(value or {})
            else:
                if name in IDENTIFIERS and stored.get(name):
                    self._index.pop(self._key(name, stored[name]), None)
                stored[name] = str(value).strip().lower() if name == "email" else value
                if name in IDENTIFIERS:
                    self._index[self._key(name, value)] = profile_id
        stored["updated"] = now()
        return profile_id
