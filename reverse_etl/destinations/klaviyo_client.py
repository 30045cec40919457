"""Klaviyo's HTTP surface as the destination uses it: the exact requests (JSON:API bodies,
`Authorization: Klaviyo-API-Key <key>` and the dated `revision` header on every call) and the reading of its
answers (cursor-paginated collections, one line from a JSON:API error body)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from reverse_etl.destinations.base import Record
from reverse_etl.destinations.klaviyo_config import IDENTIFIERS, PAGE_SIZE, KlaviyoConfig
from reverse_etl.errors import DestinationError
from reverse_etl.http import HttpClient, HttpRequest

JSON_API = "application/vnd.api+json"
ATTRIBUTES = {"first_name", "last_name", "organization", "locale", "title", "image"}
LOCATION = {
    "address1",
    "address2",
    "city",
    "country",
    "region",
    "zip",
    "timezone",
    "latitude",
    "longitude",
    "ip",
}


def payload_size(value: Any) -> int:
    """Bytes of `value` as the HTTP layer serializes a JSON body (json.dumps defaults, UTF-8)."""
    return len(json.dumps(value, allow_nan=False).encode("utf-8"))


def profile_attributes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Mapped fields as Klaviyo profile attributes: identifiers and standard attributes at the top, location
    fields under `location`, everything else under `properties`. Nulls are left out (they change nothing)."""
    attributes: dict[str, Any] = {}
    location: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name in IDENTIFIERS or name in ATTRIBUTES:
            attributes[name] = str(value)
        elif name in LOCATION:
            location[name] = value
        else:
            properties[name] = value
    if location:
        attributes["location"] = location
    if properties:
        attributes["properties"] = properties
    return attributes


def failure(error: DestinationError) -> str:
    """One line from a JSON:API error body: the first error's code, title and detail."""
    try:
        first = (json.loads(error.body or "") or {}).get("errors", [])[0]
        return f"HTTP {error.status} {first.get('code')}: {first.get('detail') or first.get('title')}"
    except (ValueError, IndexError, AttributeError, TypeError):
        return error.http_summary()


class KlaviyoClient:
    """Builds the requests of one sync's configuration and reads collections through its HTTP client."""

    def __init__(self, config: KlaviyoConfig, http: HttpClient) -> None:
        self.config = config
        self.http = http

    # -- requests ---------------------------------------------------------------------------------------------

    def headers(self, body: bool = True) -> dict[str, str]:
        headers = {
            "Authorization": f"Klaviyo-API-Key {self.config.api_key}",
            "revision": self.config.revision,
            "accept": JSON_API,
        }
        if body:
            headers["content-type"] = JSON_API
        return headers

    def envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": []}}}
        if self.config.list_id:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": self.config.list_id}]}}
        return {"data": data}

    def import_request(self, profiles: list[dict[str, Any]]) -> HttpRequest:
        body = self.envelope()
        body["data"]["attributes"]["profiles"]["data"] = profiles
        return HttpRequest(
            "POST", f"{self.config.base_url}/api/profile-bulk-import-jobs", headers=self.headers(), json=body
        )

    def remove_request(self, profile_ids: list[str]) -> HttpRequest:
        return HttpRequest(
            "DELETE",
            f"{self.config.base_url}/api/lists/{self.config.list_id}/relationships/profiles",
            headers=self.headers(),
            json={"data": [{"type": "profile", "id": profile_id} for profile_id in profile_ids]},
        )

    def forget_request(self, record: Record, identifier: str | None = None) -> HttpRequest:
        identifier = identifier or self.config.identifier
        profile = {"type": "profile", "attributes": {identifier: str(record.fields[identifier])}}
        return HttpRequest(
            "POST",
            f"{self.config.base_url}/api/data-privacy-deletion-jobs",
            headers=self.headers(),
            json={
                "data": {"type": "data-privacy-deletion-job", "attributes": {"profile": {"data": profile}}}
            },
        )

    def lookup_request(self, name: str, values: list[str]) -> HttpRequest:
        return HttpRequest(
            "GET",
            f"{self.config.base_url}/api/profiles",
            headers=self.headers(body=False),
            params={
                "filter": f"any({name},{json.dumps(values, separators=(',', ':'))})",
                "fields[profile]": name,
                "page[size]": PAGE_SIZE,
            },
        )

    # -- answers ----------------------------------------------------------------------------------------------

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.send(HttpRequest("GET", url, headers=self.headers(body=False), params=params)).json()

    def pages(self, url: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every resource of a cursor-paginated collection, following links.next."""
        next_url: str | None = url
        next_params: Mapping[str, Any] | None = params
        while next_url:
            page = self.get(next_url, next_params)
            yield from page.get("data") or []
            next_url, next_params = (page.get("links") or {}).get("next"), None
