"""Bearer tokens of the profile API, each with its read scopes, from the environment:

    CDP_PROFILE_TOKENS="<token>:profiles.read+profiles.identifiers,<other token>:profiles.read"

or from a YAML file kept outside git and named by CDP_PROFILE_TOKENS_FILE:

    tokens:
      - {token: "<token>", scopes: [profiles.read, profiles.identifiers]}

`profiles.read` is needed for any lookup; `profiles.identifiers` adds the customer's identifiers (every email,
phone, device id ...) to the answer. Tokens are at least 16 characters, compared in constant time, registered
with reverse_etl.secrets so no message ever carries one, and never logged."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from reverse_etl import secrets
from reverse_etl.errors import ConfigError

ENVIRONMENT = "CDP_PROFILE_TOKENS"
FILE_ENVIRONMENT = "CDP_PROFILE_TOKENS_FILE"
READ = "profiles.read"
IDENTIFIERS = "profiles.identifiers"
SCOPES = frozenset({READ, IDENTIFIERS})
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Tokens:
    scopes_by_token: dict[str, frozenset[str]]

    @classmethod
    def parse(cls, text: str, where: str = ENVIRONMENT) -> Tokens:
        tokens: dict[str, frozenset[str]] = {}
        for position, entry in enumerate(part.strip() for part in text.split(",")):
            if not entry:
                continue
            token, separator, scope_text = entry.rpartition(":")
            if not separator or not token:
                raise ConfigError(f"{where}: entry {position + 1} is not <token>:<scope>[+<scope>]")
            scopes = frozenset(scope.strip() for scope in scope_text.split("+") if scope.strip())
            unknown = sorted(scopes - SCOPES)
            if unknown or not scopes:
                raise ConfigError(
                    f"{where}: entry {position + 1} has unknown scope(s) {', '.join(unknown) or '(none)'}; "
                    f"use {' or '.join(sorted(SCOPES))}"
                )
            if len(token) < MIN_TOKEN_LENGTH:
                raise ConfigError(
                    f"{where}: entry {position + 1}: tokens are at least {MIN_TOKEN_LENGTH} characters; "
                    "make one with python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
            secrets.register(token)
            tokens[token] = scopes
        if not tokens:
            raise ConfigError(f"{where} lists no token; the profile API answers only requests that carry one")
        return cls(tokens)

    @classmethod
    def from_file(cls, path: Path) -> Tokens:
        where = f"{FILE_ENVIRONMENT}={path}"
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{where}: cannot read the tokens file ({error.__class__.__name__})") from error
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("scopes"), list) for entry in entries
        ):
            raise ConfigError(f"{where}: expected `tokens:` listing {{token: ..., scopes: [{READ}, ...]}}")
        return cls.parse(
            ",".join(f"{entry.get('token', '')}:{'+'.join(map(str, entry['scopes']))}" for entry in entries),
            where,
        )

    @classmethod
    def from_environment(cls) -> Tokens:
        if os.environ.get(FILE_ENVIRONMENT):
            return cls.from_file(Path(os.environ[FILE_ENVIRONMENT]))
        text = os.environ.get(ENVIRONMENT)
        if not text:
            raise ConfigError(
                f"{ENVIRONMENT} is not set: the profile API needs at least one token, "
                f'e.g. {ENVIRONMENT}="<token>:{READ}+{IDENTIFIERS}", or name a YAML file in {FILE_ENVIRONMENT}'
            )
        return cls.parse(text)

    def scopes(self, authorization: str | None) -> frozenset[str] | None:
        """The scopes of the request's bearer token, or None when it carries no known token."""
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return None
        found: frozenset[str] | None = None
        for token, scopes in self.scopes_by_token.items():
            # Every token is compared, so the time taken does not say which one nearly matched.
            if hmac.compare_digest(token.encode(), presented.strip().encode()):
                found = scopes
        return found
