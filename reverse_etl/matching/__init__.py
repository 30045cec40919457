"""Probabilistic record matching (Splink, DuckDB backend): a trained model scores pairs of offline records on
names, date of birth and address, and `cdp match` writes the scored links to the warehouse (docs/identity.md,
"Fuzzy matching")."""
