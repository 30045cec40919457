"""Start the local fakes of the sandbox and point the environment at them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from reverse_etl.sandbox.registry import FAKES
from reverse_etl.sandbox.server import FakeServer, Faults

BASE_PORT = 18700


@contextmanager
def running_sandbox(
    names: list[str] | None = None, base_port: int | None = None
) -> Iterator[dict[str, FakeServer]]:
    """Every fake (or those named) on 127.0.0.1, with os.environ pointing syncs at them for the duration."""
    chosen = sorted(names if names is not None else FAKES)
    servers: dict[str, FakeServer] = {}
    saved: dict[str, str | None] = {}
    try:
        for index, name in enumerate(chosen):
            port = 0 if base_port is None else base_port + index
            server = FakeServer(FAKES[name](Faults()), port=port).start()
            servers[name] = server
            for key, value in server.service.environment(server.url).items():
                saved.setdefault(key, os.environ.get(key))
                os.environ[key] = value
        yield servers
    finally:
        for server in servers.values():
            server.stop()
        for key, previous in saved.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous
