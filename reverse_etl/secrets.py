"""Secrets are never stored, logged or shown. Every credential the process reads (secret_lookup, secret-named
environment variables, ${NAME} expansions, the credential headers the HTTP layer sends) is registered here with
the forms it takes on the wire (URL-encoded, Base64); `redact` masks all of them in any text before it is
written to the warehouse, printed or served. A destination that echoes a header in an error body therefore
leaves `***` in cdp_sync.rejects, not the token."""

from __future__ import annotations

import base64
import os
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Environment variables whose values are credentials, by name.
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH", re.I
)
# Shorter values are not masked: a two-letter "secret" would mask every word that contains it.
MIN_LENGTH = 6
AUTH_SCHEMES = ("bearer ", "basic ", "token ", "apikey ", "api-key ")

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None
# The names the environment had when it was last read: a variable added since is read too.
_environment_names: frozenset[str] | None = None


def _forms(value: str) -> set[str]:
    raw = value.encode()
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    }
    forms |= {form.rstrip("=") for form in forms}
    lowered = value.lower()
    for scheme in AUTH_SCHEMES:
        if lowered.startswith(scheme):
            forms |= _forms(value[len(scheme) :].strip())
    return {form for form in forms if len(form) >= MIN_LENGTH}


def register(value: str | None) -> None:
    """Mask this value (and its encoded forms) from now on."""
    global _pattern
    if not value or len(value) < MIN_LENGTH or value in _values:
        # Known already (the HTTP layer registers each request's credential headers): nothing to encode.
        return
    forms = _forms(value)
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        _pattern = None


def register_environment() -> None:
    """Register the environment's secret-named variables (CDP_PG_PASSWORD, HUBSPOT_TOKEN, ...)."""
    global _environment_names
    _environment_names = frozenset(os.environ)
    for name, value in list(os.environ.items()):
        if SECRET_NAME.search(name):
            register(value)


def redact(text: str | None) -> str | None:
    """The text with every registered secret replaced by ***."""
    global _pattern
    if not text:
        return text
    if _environment_names is None or not _environment_names.issuperset(os.environ):
        register_environment()
    with _lock:
        if not _values:
            return text
        if _pattern is None:
            # Longest first, so a secret's Base64 form is masked whole rather than around a shorter match.
            _pattern = re.compile(
                "|".join(re.escape(form) for form in sorted(_values, key=len, reverse=True))
            )
        pattern = _pattern
    return pattern.sub(MASK, text)


def redact_text(text: str) -> str:
    """redact() for text that is never None."""
    return redact(text) or text


def redact_all(value: Any) -> Any:
    """Every string inside a JSON-like value (dicts, lists), redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(item) for item in value]
    return value
