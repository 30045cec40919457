"""The one check of a destination's URL options (base_url, instance_url, rest_endpoint, url), made when the
destination is created: a missing scheme or host would otherwise surface mid-run as a requests traceback
(MissingSchema / InvalidSchema / InvalidURL) instead of one line naming the option and the fix."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from reverse_etl.errors import ConfigError

LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# What ${NAME} / $NAME expansion leaves in place when the variable is not set.
UNEXPANDED = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def url_option(destination: str, option: str, value: Any, example: str, secure: bool = True) -> str:
    """`value` as an http(s) URL with a host, without a trailing slash, or a ConfigError naming the option.
    `secure`: vendor APIs are https only (credentials travel in headers); plain http is accepted for a
    loopback host (the local sandbox). A user's own endpoint (the webhook) may be plain http anywhere."""
    text = "" if value is None else str(value).strip()
    where = f"{destination} option {option} (meta.cdp_sync.options.{option})"
    unset = UNEXPANDED.search(text)
    if unset:
        raise ConfigError(
            f"{where} is {text!r}: environment variable {unset.group(1)} is not set; export it "
            f"(`cdp sandbox` prints the sandbox's) or write the URL itself, e.g. {example}"
        )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parsing the port is the check: 'http://host:abc' raises here
    except ValueError as error:
        raise ConfigError(f"{where} is not a valid URL ({error}): {text!r}; e.g. {example}") from error
    if not text:
        problem = "is empty"
    elif parts.scheme not in ("http", "https"):
        problem = f"needs an http:// or https:// scheme, got {text!r}"
    elif not parts.hostname:
        problem = f"has no host: {text!r}"
    elif secure and parts.scheme == "http" and parts.hostname not in LOOPBACK:
        problem = f"must use https (http only for localhost), got {text!r}"
    else:
        return text.rstrip("/")
    raise ConfigError(f"{where} {problem}; give a URL such as {example}")
