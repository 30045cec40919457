"""An identifier typed by a caller, normalized exactly as the identity layer normalizes what sources send, so
` Jane.Doe+news@GMail.com ` finds the person whose graph holds `janedoe@gmail.com`.

The rules are the dbt project's: staging reads every email through macros/normalization/normalize_email.sql and
every phone through normalize_phone.sql (E.164, national numbers read in vars.cdp_default_country), then the
identity layer applies each type's rule from vars.cdp_identity.identifier_types (macros/identity/
normalize_identifier.sql: trim, lower, or email with fold_gmail). The configuration and the dialling plans
(seeds/country_phone_plans.csv) are read from the project's own files, not copied; tests/test_profiles_normalize.py runs the SQL macros and this
module on the same inputs and requires the same answers."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from reverse_etl.errors import ConfigError

PLANS_SEED = Path("seeds") / "country_phone_plans.csv"
# SQL's trim() removes spaces only; [[:space:]] is ASCII white space.
SPACE = "[ \t\n\v\f\r]"
EXTENSION = re.compile(SPACE + r"*(x|ext\.?|extension)" + SPACE + r"*[0-9]+\Z")


@dataclass(frozen=True)
class TypeRule:
    normalize: str = "trim"
    fold_gmail: bool = False


@dataclass(frozen=True)
class PhonePlan:
    calling_code: str
    trunk_prefix: str
    international_prefix: str
    min_length: int
    max_length: int


@dataclass(frozen=True)
class IdentityRules:
    types: dict[str, TypeRule]
    phone_plan: PhonePlan

    def normalize(self, identifier_type: str, value: str) -> str | None:
        """The value as the identity graph holds it, or None when nothing usable is left."""
        rule = self.types.get(identifier_type)
        if rule is None:
            raise KeyError(identifier_type)
        staged: str | None = value
        if identifier_type == "email":
            staged = _clean(value)
            staged = staged.lower() if staged is not None else None
        elif identifier_type == "phone":
            staged = normalize_phone(value, self.phone_plan)
        return None if staged is None else normalize_identifier(staged, rule)


def _clean(value: str) -> str | None:
    """clean_string: trim spaces, and blank is null."""
    trimmed = value.strip(" ")
    return trimmed or None


def normalize_identifier(value: str, rule: TypeRule) -> str | None:
    cleaned = _clean(value)
    if cleaned is None:
        return None
    if rule.normalize == "email":
        email = cleaned.lower()
        if rule.fold_gmail:
            parts = email.split("@")
            domain = parts[1] if len(parts) > 1 else ""
            if domain in ("gmail.com", "googlemail.com"):
                return parts[0].split("+")[0].replace(".", "") + "@gmail.com"
        return email
    if rule.normalize == "lower":
        return cleaned.lower()
    return cleaned


def normalize_phone(value: str, plan: PhonePlan) -> str | None:
    """macros/normalization/normalize_phone.sql, step for step."""
    text = value.strip(" ").lower()
    local = EXTENSION.sub("", text, count=1)
    digits = re.sub("[^0-9]", "", local)
    international: str | None = None
    if local[:1] == "+":
        international = digits
    elif digits[:2] == "00":
        international = digits[2:]
    elif plan.international_prefix != "00" and digits.startswith(plan.international_prefix):
        international = digits[len(plan.international_prefix) :]
    elif (
        plan.trunk_prefix
        and digits.startswith(plan.trunk_prefix)
        and plan.min_length + len(plan.trunk_prefix)
        <= len(digits)
        <= plan.max_length + len(plan.trunk_prefix)
    ):
        international = plan.calling_code + digits[len(plan.trunk_prefix) :]
    elif plan.min_length <= len(digits) <= plan.max_length:
        international = plan.calling_code + digits
    if re.search("[a-z]", local) or international is None:
        return None
    if not 8 <= len(international) <= 15 or international[:1] == "0":
        return None
    if international[:1] == "1" and len(international) != 11:
        return None
    return "+" + international


@cache
def load_rules(root: Path) -> IdentityRules:
    """The identity rules of the project at `root` (dbt_project.yml and the dialling-plan seed)."""
    project_file = root / "dbt_project.yml"
    try:
        project: dict[str, Any] = yaml.safe_load(project_file.read_text()) or {}
        with (root / PLANS_SEED).open(newline="") as plans_file:
            plans = {row["country_code"].strip().upper(): row for row in csv.DictReader(plans_file)}
    except (OSError, yaml.YAMLError, csv.Error, KeyError) as error:
        raise ConfigError(f"cannot read the identity rules of {root}: {error}") from error
    variables = project.get("vars") or {}
    types = ((variables.get("cdp_identity") or {}).get("identifier_types")) or {}
    if not isinstance(types, dict) or not types:
        raise ConfigError(f"{project_file}: vars.cdp_identity.identifier_types is missing")
    country = str(variables.get("cdp_default_country", "US")).upper()
    if country not in plans:
        raise ConfigError(
            f"{project_file}: vars.cdp_default_country '{country}' has no numbering plan in {root / PLANS_SEED}"
        )
    plan = plans[country]
    try:
        phone_plan = PhonePlan(
            calling_code=plan["calling_code"].strip(),
            trunk_prefix=(plan["trunk_prefix"] or "").strip(),
            international_prefix=plan["international_prefix"].strip(),
            min_length=int(plan["min_length"]),
            max_length=int(plan["max_length"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(
            f"{root / PLANS_SEED}: the row of {country} is not a numbering plan: {error}"
        ) from error
    return IdentityRules(
        types={
            name: TypeRule(str((rules or {}).get("normalize", "trim")), bool((rules or {}).get("fold_gmail")))
            for name, rules in types.items()
        },
        phone_plan=phone_plan,
    )
