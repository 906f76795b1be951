"""Versioned data contracts (data_contracts/*.vN.yaml): load, validate, and expose field rules.

A contract is the single source of truth for a record shape: the Great Expectations suite that
checks each window is generated from it (:mod:`paytrace_sl.pipeline.checks`). Contract files are
validated against ``data_contracts/contract.schema.json`` with ``jsonschema``; errors name the file,
the line and the reason. Format and the choice of an own schema over ODCS: docs/data-contracts.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from paytrace_sl.pipeline.yamlsource import ConfigFileError, load_yaml_document

__all__ = [
    "ConfigFileError",
    "Contract",
    "FieldRule",
    "contracts_dir",
    "load_contract",
]

FIELD_TYPES = ("string", "integer", "decimal", "date", "datetime", "boolean")


def contracts_dir() -> Path:
    """``data_contracts/``: ``PAYTRACE_SL_CONTRACTS_DIR``, else the checkout's, else the wheel's copy."""
    from paytrace_sl import settings

    return settings.contracts_dir()


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One field of a contract. ``required`` = present and never null."""

    name: str
    type: str
    description: str
    required: bool = False
    unique: bool = False
    sensitive: bool = False
    allowed_values: tuple[str | int, ...] | None = None
    pattern: str | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    scale: int | None = None

    @property
    def text_pattern(self) -> str | None:
        """Regex the field's text form must match to be of its type (None for plain strings)."""
        if self.type == "integer":
            return r"^-?\d{1,18}$"
        if self.type == "decimal":
            places = "" if not self.scale else rf"(?:\.\d{{1,{self.scale}}})?"
            return rf"^-?\d{{1,18}}{places}$"
        if self.type == "date":
            return r"^\d{4}-\d{2}-\d{2}$"
        if self.type == "datetime":
            return r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)$"
        if self.type == "boolean":
            return r"^(?:True|False|true|false)$"
        return None


@dataclass(frozen=True, slots=True)
class Contract:
    name: str
    version: str
    description: str
    owner: str
    fields: tuple[FieldRule, ...]
    primary_key: tuple[str, ...]
    source: Path

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    @property
    def suite_name(self) -> str:
        return f"{self.name}.v{self.major}"

    def field(self, name: str) -> FieldRule:
        for rule in self.fields:
            if rule.name == name:
                return rule
        raise KeyError(f"contract {self.name} has no field {name!r}")


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((contracts_dir() / "contract.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    name = str(name_or_path)
    if re.fullmatch(r"[a-z0-9_]+\.v\d+", name):
        return contracts_dir() / f"{name}.yaml"
    matches = sorted(contracts_dir().glob(f"{name}.v*.yaml"))
    if not matches:
        raise ConfigFileError(contracts_dir() / f"{name}.v?.yaml", None, "no such contract")
    return max(matches, key=lambda p: int(p.stem.rsplit(".v", 1)[1]))  # newest major version


def load_contract(name_or_path: str | Path) -> Contract:
    """Load a contract by name (``paytrace_transaction`` → newest version), ``name.vN`` or path.

    Raises :class:`ConfigFileError` (``file:line: reason``) for a file that is not valid YAML, does not
    match ``contract.schema.json``, or is inconsistent (bad regex, duplicate field, min > max …).
    """
    path = _resolve(name_or_path)
    doc = load_yaml_document(path)
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(doc.data), key=lambda e: (len(e.absolute_path), str(e.path)))
    if errors:
        key_path = tuple(errors[0].absolute_path)
        same_place = [e.message for e in errors if tuple(e.absolute_path) == key_path]
        where = ".".join(str(p) for p in key_path) or "(top level)"
        more = (
            f" (+{len(errors) - len(same_place)} more errors elsewhere)"
            if len(errors) > len(same_place)
            else ""
        )
        line_path = key_path
        first = errors[0]
        if first.validator == "additionalProperties" and isinstance(first.instance, dict):
            extra = sorted(set(first.instance) - set(first.schema.get("properties", {})))
            line_path = (*key_path, extra[0]) if extra else key_path  # point at the unexpected key itself
        raise doc.error(line_path, f"{where}: {'; '.join(same_place)}{more}")
    data: dict[str, Any] = doc.data
    rules: list[FieldRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["fields"]):
        if raw["name"] in seen:
            raise doc.error(("fields", index, "name"), f"duplicate field {raw['name']!r}")
        seen.add(raw["name"])
        if "pattern" in raw:
            try:
                re.compile(raw["pattern"])
            except re.error as exc:
                raise doc.error(("fields", index, "pattern"), f"invalid regex: {exc}") from exc
        minimum = Decimal(str(raw["minimum"])) if "minimum" in raw else None
        maximum = Decimal(str(raw["maximum"])) if "maximum" in raw else None
        if minimum is not None and maximum is not None and minimum > maximum:
            raise doc.error(("fields", index, "minimum"), "minimum is greater than maximum")
        allowed = raw.get("allowed_values")
        rules.append(
            FieldRule(
                name=raw["name"],
                type=raw["type"],
                description=raw["description"],
                required=bool(raw.get("required", False)),
                unique=bool(raw.get("unique", False)),
                sensitive=bool(raw.get("sensitive", False)),
                allowed_values=tuple(allowed) if allowed is not None else None,
                pattern=raw.get("pattern"),
                minimum=minimum,
                maximum=maximum,
                min_length=raw.get("min_length"),
                max_length=raw.get("max_length"),
                scale=raw.get("scale"),
            )
        )
    primary_key = tuple(data.get("primary_key", ()))
    for index, key in enumerate(primary_key):
        if key not in seen:
            raise doc.error(("primary_key", index), f"primary key {key!r} is not a field")
    return Contract(
        name=data["contract"],
        version=data["version"],
        description=data["description"],
        owner=data["owner"],
        fields=tuple(rules),
        primary_key=primary_key,
        source=path,
    )
