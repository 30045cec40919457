"""The Splink model: comparisons per matching column, training without labels (u by random sampling, m by
expectation maximisation on the configured training blocks), and the trained model as a JSON file in the
project, so every build scores with the same reviewed parameters. Its version is the file's content hash.

Training costs what the pairs it compares cost, whatever the number of records: u is estimated on at most
`u_max_pairs` random pairs, and each EM pass on at most about `em_max_pairs` pairs of its block. Past that
budget Splink keeps a deterministic sample of the records (a hash of their id) on both sides of the block, so
the pairs kept are a uniform sample of the block's pairs, the share of matches among them is the block's, and
a retraining on the same records gives the same model. On a block with fewer pairs nothing is sampled."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import duckdb

from reverse_etl.errors import ConfigError
from reverse_etl.matching.config import MatchingConfig


def comparisons(columns: list[str]) -> list[Any]:
    """One Splink comparison per matching column present in the configuration."""
    import splink.comparison_library as cl

    library = {
        # Names: exact, then Jaro-Winkler levels (typos keep the first letters), else different.
        "first_name": lambda: cl.JaroWinklerAtThresholds("first_name", [0.92, 0.8]),
        # Surnames: exact, one or two edits (a dropped, swapped, replaced or doubled letter).
        "last_name": lambda: cl.DamerauLevenshteinAtThresholds("last_name", [1, 2]),
        # Exact, one edit (a digit typo or a transposition), within a month, a year, ten years.
        "date_of_birth": lambda: cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
        "street": lambda: cl.DamerauLevenshteinAtThresholds("street", [1, 3]),
        "postal_code": lambda: cl.DamerauLevenshteinAtThresholds("postal_code", [1]),
        "city": lambda: cl.ExactMatch("city"),
        "phone": lambda: cl.DamerauLevenshteinAtThresholds("phone", [1]),
    }
    return [library[name]() for name in columns]


def settings(config: MatchingConfig) -> Any:
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(config.columns),
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in config.blocking_rules],
        # The comparison vector values (the level each column fired) come with the matching columns.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(logging.WARNING)


def train(config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> str:
    """Estimate the model on `memory`'s records table, write it to the configured file; its version."""
    from splink import DuckDBAPI, Linker, block_on

    _quiet_splink()
    records = DuckDBAPI(connection=memory).register("records")
    linker = Linker(records, settings(config))
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*rule) for rule in config.deterministic_rules], recall=config.deterministic_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed)
    for rule in config.training_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*rule), max_pairs=config.em_max_pairs
        )
    model = linker.misc.save_model_to_json(out_path=None)
    model.pop("linker_uid", None)  # a random id per run: the file changes only when the parameters do
    config.model_file.parent.mkdir(parents=True, exist_ok=True)
    config.model_file.write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
    return version(config.model_file)


def version(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def load(config: MatchingConfig) -> dict[str, Any]:
    """The trained model of the configured file, checked against the configured columns."""
    try:
        model = json.loads(config.model_file.read_text())
    except FileNotFoundError as error:
        raise ConfigError(
            f"no trained matching model at {config.model_file.name}; train one with `cdp match --train`"
        ) from error
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the matching model {config.model_file}: {error}") from error
    trained = [comparison.get("output_column_name") for comparison in model.get("comparisons", [])]
    if trained != config.columns:
        raise ConfigError(
            f"the matching model {config.model_file.name} compares {', '.join(map(str, trained))} but "
            f"vars.cdp_matching configures {', '.join(config.columns)}; train it again with `cdp match --train`"
        )
    return dict(model)


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """For each comparison, the label of each comparison vector value (Splink numbers the non-null levels
    from the last, 0, up to the first; the null level is -1)."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        named = {len(levels) - 1 - index: level["label_for_charts"] for index, level in enumerate(levels)}
        named[-1] = f"{comparison['output_column_name']} is NULL"
        labels[comparison["output_column_name"]] = named
    return labels
