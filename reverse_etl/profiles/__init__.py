"""The profile store and the profile API: a sync (destination `profile_store`) keeps a copy of each customer's
profile in an embedded SQLite file or in Redis, keyed by customer_id and by every identifier; the API answers
lookups from that copy in milliseconds and never queries the warehouse.

store: the contract both backends keep; sqlite, redis: the backends; normalize: identifiers normalized by
the identity layer's rule; destination: the sync destination; api: the HTTP app; auth: bearer tokens and
scopes; serving: where the store is and how the API is started."""

# The profile API's port when none is given (`cdp profiles serve`, `cdp serve`, the demo's hint).
DEFAULT_PORT = 8788
