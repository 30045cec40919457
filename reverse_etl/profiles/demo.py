"""What `cdp demo` does with a profile store: start it empty (as the sandbox starts), and after the sync show
one lookup by an email typed the way a person types it."""

from __future__ import annotations

import json
from urllib.parse import quote

from reverse_etl.profiles import DEFAULT_PORT
from reverse_etl.profiles.normalize import load_rules
from reverse_etl.profiles.settings import StoreSettings
from reverse_etl.sync.config import SyncConfig, expand_env
from reverse_etl.warehouse import Warehouse
from reverse_etl.warehouse import quote as quote_name


def settings(sync: SyncConfig) -> StoreSettings:
    return StoreSettings.parse(expand_env(sync.options))


def reset_store(sync: SyncConfig) -> None:
    """Empty the store: the demo drops the syncs' state, so the store must not keep an earlier demo's people."""
    store_settings = settings(sync)
    if store_settings.backend == "redis":
        store = store_settings.open()
        store.clear()  # type: ignore[attr-defined]
        store.close()
        return
    assert store_settings.path is not None
    for suffix in ("", "-wal", "-shm"):
        store_settings.path.with_name(store_settings.path.name + suffix).unlink(missing_ok=True)


def sample_lookup(warehouse: Warehouse, sync: SyncConfig) -> str:
    """One person with an email, looked up in the store by that email in capitals with spaces around it."""
    relation = f"{quote_name(sync.relation.schema)}.{quote_name(sync.relation.name)}"
    rows = warehouse.query(
        f"select customer_id, emails from {relation} where emails like ? order by customer_id limit 1",  # noqa: S608
        ("%@%",),
    )
    if not rows:
        return f"  {sync.name}: no profile with an email to look up"
    typed = f"  {json.loads(rows[0][1])[0].upper()} "
    from reverse_etl.project import project_dir

    value = load_rules(project_dir()).normalize("email", typed)
    store = settings(sync).open(create=False)
    try:
        profile = store.lookup("email", value or "")
    finally:
        store.close()
    found = json.dumps(
        {
            "customer_id": profile.customer_id,
            **{k: profile.attributes.get(k) for k in ("first_name", "segments")},
        }
        if profile
        else None
    )
    return (
        f"  lookup by email {typed!r} -> {found}\n"
        f'  over HTTP: CDP_PROFILE_TOKENS="$TOKEN:profiles.read" cdp profiles serve, then\n'
        f'  curl -H "Authorization: Bearer $TOKEN" '
        f"http://127.0.0.1:{DEFAULT_PORT}/api/v1/profiles/email/{quote(typed)}"
    )
