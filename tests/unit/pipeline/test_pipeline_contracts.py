"""Data contracts: the shipped ones validate; broken ones are rejected with file, line and reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from paytrace_sl.pipeline.contracts import ConfigFileError, contracts_dir, load_contract


@pytest.mark.parametrize("name", ["paytrace_transaction", "paytrace_settlement_batch", "sl_posting_plan"])
def test_shipped_contracts_load(name: str) -> None:
    contract = load_contract(name)
    assert contract.name == name and contract.major == 1
    assert contract.primary_key and all(k in contract.field_names for k in contract.primary_key)


def test_transaction_contract_matches_the_record_shape() -> None:
    from paytrace_sl.paytrace.records import Transaction

    contract = load_contract("paytrace_transaction.v1")
    assert set(contract.field_names) == set(Transaction.__dataclass_fields__)
    amount = contract.field("amount")
    assert (amount.type, amount.scale, amount.minimum) == ("decimal", 2, Decimal(0))
    assert contract.field("card_masked").sensitive


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.v1.yaml"
    path.write_text(text)
    return path


BASE = (contracts_dir() / "paytrace_settlement_batch.v1.yaml").read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "reason"),
    [
        (
            "    type: decimal\n    scale: 2\n    required: true\n    minimum: -99999999.99",
            "    type: money\n    scale: 2\n    required: true\n    minimum: -99999999.99",
            "type: money",
            "money",
        ),
        ("    unique: true\n", "    unique: yes-please\n", "unique: yes-please", "not of type 'boolean'"),
        (
            "    description: PayTrace batch number.\n",
            "    descripton: PayTrace batch number.\n",
            "descripton",
            "Additional properties",
        ),
        (
            "  - name: sales_count\n    type: integer\n",
            "  - name: sales_count\n    type: integer\n    scale: 2\n",
            "- name: sales_count",
            "decimal",
        ),
        ("version: 1.0.0", "version: one", "version: one", "does not match"),
    ],
)
def test_schema_violations_name_file_line_reason(
    tmp_path: Path, old: str, new: str, needle: str, reason: str
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    with pytest.raises(ConfigFileError) as info:
        load_contract(write(tmp_path, text))
    err = info.value
    assert reason in err.reason
    assert err.path.endswith("broken.v1.yaml")
    # the reported line is the offending key's line or its field's line
    assert err.line is not None
    assert abs(err.line - line_of(text, needle)) <= 2, str(err)


def test_semantic_errors(tmp_path: Path) -> None:
    dup = BASE.replace("  - name: sales_count\n", "  - name: sales_amount\n", 1)
    with pytest.raises(ConfigFileError, match="duplicate field 'sales_amount'"):
        load_contract(write(tmp_path, dup))
    bad_pk = BASE.replace("primary_key: [number]", "primary_key: [nummer]")
    with pytest.raises(ConfigFileError, match="primary key 'nummer'") as info:
        load_contract(write(tmp_path, bad_pk))
    assert info.value.line == line_of(bad_pk, "primary_key")
    inverted = BASE.replace("    minimum: -99999999.99", "    minimum: 999999999.99", 1)
    with pytest.raises(ConfigFileError, match="minimum is greater than maximum"):
        load_contract(write(tmp_path, inverted))


def test_unknown_contract_name() -> None:
    with pytest.raises(ConfigFileError, match="no such contract"):
        load_contract("no_such_thing")
