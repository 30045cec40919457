"""Running the profile API: find the declared profile_store sync, open its store read-side, and serve the app
under uvicorn alone (`cdp profiles serve`); `cdp serve` serves the same routes from its app
(reverse_etl.web.app.profile_routes). Access logs are
off: request paths carry emails and phone numbers, and nothing else in them is worth keeping."""

from __future__ import annotations

from collections.abc import Mapping

from reverse_etl.errors import ConfigError
from reverse_etl.profiles.api import make_app
from reverse_etl.profiles.auth import Tokens
from reverse_etl.profiles.normalize import load_rules
from reverse_etl.profiles.settings import StoreSettings
from reverse_etl.sync.config import SyncConfig, expand_env


def profile_syncs(syncs: Mapping[str, SyncConfig]) -> list[SyncConfig]:
    return [sync for sync in syncs.values() if sync.destination == "profile_store"]


def profile_sync(syncs: Mapping[str, SyncConfig], name: str | None = None) -> SyncConfig:
    """The sync whose store the API reads: the one named, or the only one declared."""
    declared = profile_syncs(syncs)
    if name is not None:
        chosen = [sync for sync in declared if sync.name == name]
        if not chosen:
            raise ConfigError(
                f"no profile_store sync named '{name}'; declared: {', '.join(s.name for s in declared) or 'none'}"
            )
        return chosen[0]
    if len(declared) != 1:
        raise ConfigError(
            "declare exactly one sync with destination profile_store, or name one with --sync "
            f"(declared: {', '.join(s.name for s in declared) or 'none'})"
        )
    return declared[0]


def make_server(sync: SyncConfig, host: str, port: int, tokens: Tokens | None = None) -> object:
    """A uvicorn server for the API over the store of `sync` (tokens from CDP_PROFILE_TOKENS by default)."""
    import uvicorn

    from reverse_etl.project import project_dir

    tokens = tokens or Tokens.from_environment()
    store = StoreSettings.parse(expand_env(sync.options)).open(create=True)
    app = make_app(store, load_rules(project_dir()), tokens)
    config = uvicorn.Config(
        app, host=host, port=port, access_log=False, log_level="warning", lifespan="on", server_header=False
    )
    return uvicorn.Server(config)
