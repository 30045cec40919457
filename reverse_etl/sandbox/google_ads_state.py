"""What the Google Ads fake holds: its offline user data jobs (pending operations kept compactly as arrays of
member keys and actions) and each user list's membership as a set of 64-bit member keys, so a list of millions
fits; with the helpers tests use to read, pre-fill and predict it."""

from __future__ import annotations

import array
import itertools
import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.sandbox.server import FakeService, Faults

CREATE, REMOVE, REMOVE_ALL = 0, 1, 2


@dataclass
class Job:
    job_id: int
    customer_id: str
    user_list_id: str
    consent: dict[str, str]
    status: str = "PENDING"
    operations: int = 0
    has_create: bool = False
    has_remove: bool = False
    # One entry per identifier: what to do (CREATE / REMOVE / REMOVE_ALL) and its member key.
    actions: array.array = field(default_factory=lambda: array.array("b"))
    keys: array.array = field(default_factory=lambda: array.array("q"))


class GoogleAdsState(FakeService):
    """The fake's data; the fake's routes build on it."""

    def __init__(self, faults: Faults | None) -> None:
        super().__init__(faults)
        self.jobs: dict[str, Job] = {}
        self.lists: dict[tuple[str, str], set[int]] = {}
        self.add_requests = 0
        self._ids = itertools.count(1001)
        self._apply = threading.Lock()

    def members(self, customer_id: str, user_list_id: str) -> set[int]:
        return self.lists.setdefault((customer_id, user_list_id), set())

    def prefill(self, customer_id: str, user_list_id: str, count: int, seed: int = 0) -> None:
        """Put `count` strangers (random identifiers nobody syncs) on a user list."""
        strangers = random.Random(seed)
        members = self.members(customer_id, user_list_id)
        with self._apply:
            members.update(strangers.getrandbits(64) - 2**63 for _ in range(count))

    def would_reject(self, identifier: Mapping[str, Any]) -> bool:
        """The seeded per-record fault: an operation is refused when its first identifier draws a reject."""
        return self.faults.reject_record(json.dumps(identifier, sort_keys=True))
