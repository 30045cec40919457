"""Who may use the app, and as what: viewers read, operators also run syncs and retry rejects.

Configured from the environment (every value is registered with reverse_etl.secrets, so nothing shows it):

    CDP_SERVE_TOKEN="<at least 16 characters>"     an operator token: `Authorization: Bearer <token>` on the
                                                   JSON API, or typed into the login form
    CDP_SERVE_USERS="alice:operator:<hash>,bob:viewer:<hash>"
    CDP_SERVE_USERS_FILE=users.yml                 or the same as YAML, kept outside git:
                                                   users: [{name: alice, role: operator, password_hash: ...}]
    CDP_SERVE_SESSION_SECRET="<random>"            signs session cookies; without it a random one per process
                                                   (sessions then end when `cdp serve` restarts)

Passwords are stored only as scrypt hashes: `cdp hash-password` makes one. No auth configured means read-only
on loopback and nothing else: reverse_etl.web.security refuses any other address before anything listens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reverse_etl import secrets
from reverse_etl.errors import ConfigError

TOKEN_ENV = "CDP_SERVE_TOKEN"
USERS_ENV = "CDP_SERVE_USERS"
USERS_FILE_ENV = "CDP_SERVE_USERS_FILE"
SESSION_SECRET_ENV = "CDP_SERVE_SESSION_SECRET"
MIN_TOKEN_LENGTH = 16
VIEWER = "viewer"
OPERATOR = "operator"
ROLES = (VIEWER, OPERATOR)
# scrypt cost: 2**15 * 8 * 128 bytes = 32 MiB and ~50 ms per check, enough to make guessing a stolen hash slow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$<salt>$<hash>` (Base64): the only form a password is ever kept in."""
    if not password:
        raise ConfigError("the password is empty")
    salt = salt or random.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM
    )
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def _parse_hash(text: str, where: str) -> tuple[int, int, int, bytes, bytes]:
    parts = text.split("$")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError
        n, r, p = (int(part) for part in parts[1:4])
        return n, r, p, base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise ConfigError(
            f"{where}: the password hash is not scrypt$N$r$p$salt$hash; make one with `cdp hash-password`"
        ) from None


def password_matches(password: str, stored: str) -> bool:
    n, r, p, salt, expected = _parse_hash(stored, "password hash")
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=len(expected)
    )
    return hmac.compare_digest(digest, expected)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str = field(default="", repr=False)

    @property
    def may_operate(self) -> bool:
        return self.role == OPERATOR


@dataclass(frozen=True)
class AuthSettings:
    """The token and users the app accepts; repr shows neither the token nor any hash."""

    users: Mapping[str, User] = field(default_factory=dict)
    token: str | None = field(default=None, repr=False)
    session_secret: str = field(default_factory=lambda: random.token_urlsafe(32), repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.token or self.users)

    def token_user(self, presented: str | None) -> User | None:
        """The operator behind a token (a bearer header's credentials, or one typed into the login form)."""
        if not self.token or not presented:
            return None
        if hmac.compare_digest(presented.strip().encode(), self.token.encode()):
            return User("token", OPERATOR)
        return None

    def bearer_user(self, authorization: str | None) -> User | None:
        scheme, _, credentials = (authorization or "").partition(" ")
        return self.token_user(credentials) if scheme.lower() == "bearer" else None

    def password_user(self, name: str, password: str) -> User | None:
        user = self.users.get(name)
        if user is None:
            # As slow as a real check, so the answer's timing does not say which names exist.
            password_matches(password, _DUMMY_HASH)
            return None
        return user if password_matches(password, user.password_hash) else None


_DUMMY_HASH = hash_password("no such user", salt=b"0" * 16)


def _user(name: str, role: str, password_hash: str, where: str) -> User:
    if not name:
        raise ConfigError(f"{where}: a user has no name")
    if role not in ROLES:
        raise ConfigError(f"{where}: user '{name}' has role '{role}'; use {' or '.join(ROLES)}")
    _parse_hash(password_hash, f"{where}: user '{name}'")
    return User(name, role, password_hash)


def parse_users(text: str, where: str = USERS_ENV) -> dict[str, User]:
    users: dict[str, User] = {}
    for position, entry in enumerate(part.strip() for part in text.split(",")):
        if not entry:
            continue
        fields = entry.split(":", 2)
        if len(fields) != 3:
            raise ConfigError(f"{where}: entry {position + 1} is not <name>:<role>:<password hash>")
        users[fields[0].strip()] = _user(fields[0].strip(), fields[1].strip(), fields[2].strip(), where)
    return users


def users_from_file(path: Path) -> dict[str, User]:
    where = f"{USERS_FILE_ENV}={path}"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{where}: cannot read the users file ({error.__class__.__name__})") from error
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigError(
            f"{where}: expected `users:` listing {{name: ..., role: viewer|operator, password_hash: ...}}"
        )
    return {
        str(entry.get("name", "")): _user(
            str(entry.get("name", "")), str(entry.get("role", "")), str(entry.get("password_hash", "")), where
        )
        for entry in entries
    }


def auth_from_environment(environ: Mapping[str, str] = os.environ) -> AuthSettings:
    token = environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} characters; use a random one "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    if environ.get(USERS_FILE_ENV):
        users = users_from_file(Path(environ[USERS_FILE_ENV]))
    else:
        users = parse_users(environ.get(USERS_ENV, ""))
    session_secret = environ.get(SESSION_SECRET_ENV, "").strip()
    if session_secret and len(session_secret) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{SESSION_SECRET_ENV} must be at least {MIN_TOKEN_LENGTH} characters")
    for value in (token, session_secret):
        secrets.register(value)
    settings = AuthSettings(users=users, token=token)
    return AuthSettings(users, token, session_secret) if session_secret else settings
