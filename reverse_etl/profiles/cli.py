"""`cdp profiles ...`: the profile API on its own."""

from __future__ import annotations

import click

from reverse_etl.profiles import DEFAULT_PORT


@click.group("profiles")
def profiles() -> None:
    """The profile API over the profile store (written by the profile_store sync)."""


@profiles.command("serve")
@click.option("--target", "-t", default=None, envvar="CDP_TARGET", help="profiles.yml output to use.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--sync", "sync_name", default=None, help="The profile_store sync whose store to read.")
def serve(target: str | None, host: str, port: int, sync_name: str | None) -> None:
    """Serve GET /api/v1/profiles/... under uvicorn. Requests carry a bearer token from CDP_PROFILE_TOKENS."""
    from reverse_etl.profiles.serving import make_server, profile_sync
    from reverse_etl.project import load_target
    from reverse_etl.sync.service import project_syncs

    sync = profile_sync(project_syncs(load_target(target)), sync_name)
    server = make_server(sync, host, port)
    click.echo(f"cdp profiles serve: {sync.name} on http://{host}:{port}/api/v1/profiles/")
    server.run()  # type: ignore[attr-defined]
