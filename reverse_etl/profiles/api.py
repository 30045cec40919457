"""The profile API: a small Starlette app that reads the profile store and nothing else.

    GET /api/v1/profiles/{customer_id}
    GET /api/v1/profiles/{identifier_type}/{value}     value normalized as the identity layer does
    GET /api/v1/schema/profile                         the JSON schema of an answer (response_schema.json)

`fields=a,b` keeps those profile fields only. Unknown people, forgotten people and values that normalize to
nothing are 404. Each answer carries an ETag and Last-Modified from the sync run that wrote the profile, and
If-None-Match with the same ETag gets 304. Bearer tokens and scopes: reverse_etl.profiles.auth."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reverse_etl.profiles.auth import IDENTIFIERS, READ, Tokens
from reverse_etl.profiles.normalize import IdentityRules
from reverse_etl.profiles.store import Profile, ProfileStore, ProfileStoreError

SCHEMA = json.loads((Path(__file__).parent / "response_schema.json").read_text())
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}
log = logging.getLogger(__name__)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={**HEADERS, **(headers or {})})


class ProfileApi:
    def __init__(self, store: ProfileStore, rules: IdentityRules, tokens: Tokens) -> None:
        self.store = store
        self.rules = rules
        self.tokens = tokens

    def _authorize(self, request: Request) -> frozenset[str] | Response:
        scopes = self.tokens.scopes(request.headers.get("authorization"))
        if scopes is None:
            challenge = 'Bearer realm="cdp-profiles"'
            if request.headers.get("authorization"):
                challenge += ', error="invalid_token"'
            return _error(401, "a valid bearer token is required", {"WWW-Authenticate": challenge})
        if READ not in scopes:
            return _error(
                403,
                f"this token lacks the {READ} scope",
                {
                    "WWW-Authenticate": f'Bearer realm="cdp-profiles", error="insufficient_scope", scope="{READ}"'
                },
            )
        return scopes

    async def by_id(self, request: Request) -> Response:
        return self._answer(request, lambda: self.store.get(request.path_params["customer_id"]))

    async def by_identifier(self, request: Request) -> Response:
        identifier_type = request.path_params["identifier_type"]
        if identifier_type not in self.rules.types:
            scopes = self._authorize(request)
            if isinstance(scopes, Response):
                return scopes
            known = ", ".join(sorted(self.rules.types))
            return _error(400, f"unknown identifier type '{identifier_type}'; use one of {known}")
        value = self.rules.normalize(identifier_type, request.path_params["value"])
        return self._answer(
            request, lambda: self.store.lookup(identifier_type, value) if value is not None else None
        )

    async def schema(self, request: Request) -> Response:
        scopes = self._authorize(request)
        return scopes if isinstance(scopes, Response) else JSONResponse(SCHEMA, headers=HEADERS)

    def _answer(self, request: Request, find: Any) -> Response:
        scopes = self._authorize(request)
        if isinstance(scopes, Response):
            return scopes
        try:
            profile: Profile | None = find()
        except ProfileStoreError as error:
            log.error("profile store unavailable: %s", error)
            return _error(503, "the profile store is unavailable")
        if profile is None:
            return _error(404, "no profile")
        fields = [name.strip() for name in request.query_params.get("fields", "").split(",") if name.strip()]
        unknown = sorted(set(fields) - set(profile.attributes))
        if unknown:
            return _error(
                400, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(profile.attributes)}"
            )
        body: dict[str, Any] = {
            "customer_id": profile.customer_id,
            "profile": {name: profile.attributes[name] for name in fields}
            if fields
            else dict(profile.attributes),
            "freshness": dict(profile.freshness),
        }
        if IDENTIFIERS in scopes:
            body["identifiers"] = {kind: list(values) for kind, values in profile.identifiers.items()}
        variant = f"{profile.document()}|{','.join(fields)}|{IDENTIFIERS in scopes}"
        etag = '"' + hashlib.sha256(variant.encode()).hexdigest()[:32] + '"'
        headers = {**HEADERS, "ETag": etag}
        written_at = profile.freshness.get("written_at")
        if written_at:
            headers["Last-Modified"] = format_datetime(
                dt.datetime.fromisoformat(str(written_at)).astimezone(dt.UTC), usegmt=True
            )
        if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return JSONResponse(body, headers=headers)


def make_app(store: ProfileStore, rules: IdentityRules, tokens: Tokens) -> Starlette:
    api = ProfileApi(store, rules, tokens)
    return Starlette(
        routes=[
            Route("/api/v1/schema/profile", api.schema),
            Route("/api/v1/profiles/{customer_id}", api.by_id),
            Route("/api/v1/profiles/{identifier_type}/{value:path}", api.by_identifier),
        ],
        lifespan=_closing(store),
    )


def _closing(store: ProfileStore) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    return lifespan
