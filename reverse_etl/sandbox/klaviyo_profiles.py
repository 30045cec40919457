"""The Klaviyo fake's profile, list and privacy endpoints: profiles found by `filter=any(...)` /
`equals(...)` on an identifier or id, profiles taken off a list (at most 1,000 a call), and data privacy
deletion jobs that erase a person named by email, phone number or id."""

from __future__ import annotations

import json
import re

from reverse_etl.sandbox.klaviyo_bodies import MAX_PAGE_SIZE, error, invalid, page
from reverse_etl.sandbox.klaviyo_state import IDENTIFIERS, KlaviyoState
from reverse_etl.sandbox.server import HttpError, Request, Response

MAX_LIST_REMOVALS = 1_000
FILTER = re.compile(r"^(any|equals)\((email|phone_number|external_id|id),(.+)\)$")


class KlaviyoProfileRoutes(KlaviyoState):
    """Routes of `/api/profiles`, `/api/lists/{id}/relationships/profiles` and `/api/data-privacy-deletion-jobs`."""

    def get_profiles(self, request: Request) -> Response:
        """Profiles matching `filter=any(<identifier>,["a","b"])` or `equals(<identifier>,"a")`."""
        text = (request.query.get("filter") or [""])[0]
        match = FILTER.match(text)
        try:
            operand = json.loads(match.group(3)) if match else None
        except ValueError:
            operand = None
        values = operand if match and match.group(1) == "any" else [operand]
        if (
            match is None
            or not isinstance(values, list)
            or not values
            or len(values) > MAX_PAGE_SIZE
            or not all(isinstance(value, str) for value in values)
        ):
            raise HttpError(
                400,
                error(
                    400,
                    "invalid",
                    "Invalid input.",
                    f'Invalid filter {text!r}: use any(<field>,[...]) with 1..{MAX_PAGE_SIZE} strings or equals(<field>,"...").',
                ),
            )
        name = match.group(2)
        fields = (request.query.get("fields[profile]") or [""])[0].split(",")
        with self._state:
            if name == "id":
                ids = [value for value in values if value in self.profiles]
            else:
                ids = [
                    self._index[self._key(name, value)]
                    for value in values
                    if self._key(name, value) in self._index
                ]
            items = [
                {
                    "type": "profile",
                    "id": profile_id,
                    "attributes": {
                        key: value
                        for key, value in self.profiles[profile_id].items()
                        if fields == [""] or key in fields
                    },
                }
                for profile_id in dict.fromkeys(ids)
            ]
        return page(request, items)

    def remove_from_list(self, request: Request) -> Response:
        members = self.lists.get(request.params["list_id"])
        if members is None:
            raise HttpError(
                404,
                error(
                    404,
                    "not_found",
                    "Not found.",
                    f"A list with id {request.params['list_id']} does not exist.",
                ),
            )
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise invalid("'data' must be a non-empty array of profile identifiers.")
        if len(data) > MAX_LIST_REMOVALS:
            raise invalid(
                f"At most {MAX_LIST_REMOVALS:,} profiles can be removed per call, got {len(data):,}."
            )
        if any(
            not isinstance(item, dict) or item.get("type") != "profile" or not item.get("id") for item in data
        ):
            raise invalid("Each item needs type 'profile' and an id.")
        with self._state:
            for item in data:
                members.discard(str(item["id"]))
        return Response(204, None)

    def request_deletion(self, request: Request) -> Response:
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "data-privacy-deletion-job":
            raise invalid("'data.type' must be 'data-privacy-deletion-job'.", "/data/type")
        profile = (((data.get("attributes") or {}).get("profile") or {}).get("data")) or {}
        attributes = profile.get("attributes") or {}
        given = [name for name in ("email", "phone_number") if attributes.get(name)] + (
            ["id"] if profile.get("id") else []
        )
        if len(given) != 1:
            raise invalid(
                "Provide exactly one of email, phone_number or id.", "/data/attributes/profile/data"
            )
        with self._state:
            self.deletion_requests.append(
                {"identifier": given[0], "value": attributes.get(given[0]) or profile.get("id")}
            )
            target = profile.get("id") or self._find(attributes)
            if target and target in self.profiles:
                stored = self.profiles.pop(target)
                for name in IDENTIFIERS:
                    if stored.get(name):
                        self._index.pop(self._key(name, stored[name]), None)
                for members in self.lists.values():
                    members.discard(target)
        return Response(202, None)
