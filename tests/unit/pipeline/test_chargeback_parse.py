"""Chargeback file parsing (issue 16 §2): default layout, another processor's layout from mapping.yaml,
every bad row named by row and field, never a card number kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from paytrace_sl.chargebacks.parse import ChargebackFileError, parse_text
from paytrace_sl.pipeline.mapping import default_mapping_path, load_mapping
from paytrace_sl.pipeline.yamlsource import ConfigFileError
from paytrace_sl_sandbox.chargebacks import TEST_PAN, SandboxCase, render

HEADER = "case_number,transaction_id,stage,case_date,amount,fee,reason_code,card\n"


def _cfg(tmp_path: Path, extra: str = "") -> object:
    text = default_mapping_path().read_text().split("\nchargebacks:")[0] + extra
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return load_mapping(path).chargebacks


def test_default_layout_with_processor_words_and_negative_amounts() -> None:
    cfg = load_mapping().chargebacks
    text = HEADER + (
        "CB-1,81234567,First Chargeback,2025-05-10,-50.00,15,10.4,************1111\n"
        'CB-1,81234567,REPRESENTMENT WON,2025-05-30,"$1,050.00",,,\n'
        "R-9,81234568,retrieval,2025-05-11,20.5,0,,\n"
    )
    parsed = parse_text(text, cfg, "f.csv")
    assert parsed.problems == [] and parsed.data_rows == 3
    first, won, retrieval = parsed.rows
    assert (first.stage, first.amount, first.fee, first.case_date) == (
        "chargeback",
        Decimal("50.00"),
        Decimal(15),
        dt.date(2025, 5, 10),
    )
    assert (won.stage, won.amount, won.fee, won.file_row) == ("won", Decimal("1050.00"), Decimal(0), 3)
    assert retrieval.stage == "retrieval" and retrieval.masked_card == ""


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("CB 1,81234567,chargeback,2025-05-10,5,0,,", "case_number"),
        ("CB-1,8123x567,chargeback,2025-05-10,5,0,,", "transaction_id"),
        ("CB-1,81234567,appeal,2025-05-10,5,0,,", "stage"),
        ("CB-1,81234567,chargeback,10/05/2025,5,0,,", "case_date"),
        ("CB-1,81234567,chargeback,2025-05-10,five,0,,", "amount"),
        ("CB-1,81234567,chargeback,2025-05-10,5.001,0,,", "amount"),
        ("CB-1,81234567,chargeback,2025-05-10,0,0,,", "amount"),
        ("CB-1,81234567,chargeback,2025-05-10,5,NaN,,", "fee"),
        ("CB-1,81234567,chargeback,2025-05-10,5,0,,4111-xxxx", "card"),
        (f"CB-1,81234567,chargeback,2025-05-10,5,0,,{TEST_PAN}", "card"),
        (f"CB-1,81234567,chargeback,2025-05-10,5,0,{TEST_PAN},", "reason_code"),
    ],
)
def test_each_bad_field_is_named_and_no_pan_survives(row: str, field: str) -> None:
    parsed = parse_text(HEADER + row + "\n", load_mapping().chargebacks, "f.csv")
    (problem,) = parsed.problems
    assert parsed.rows == [] and problem.file_row == 2 and problem.field == field
    assert TEST_PAN not in repr(problem) and problem.text("f.csv").startswith(f"f.csv row 2 field {field}: ")


def test_duplicates_exact_are_counted_changed_are_problems() -> None:
    case = SandboxCase("CB-7", 81234567, "chargeback", dt.date(2025, 5, 10), Decimal("12.00"), Decimal("15"))
    changed = SandboxCase("CB-7", 81234567, "chargeback", dt.date(2025, 5, 10), Decimal("13.00"))
    parsed = parse_text(
        render([case], duplicate=True) + ",".join(changed.row()) + "\n", load_mapping().chargebacks
    )
    assert len(parsed.rows) == 1 and parsed.duplicates == 1
    (problem,) = parsed.problems
    assert problem.file_row == 4 and "repeats row 2 with other values" in problem.reason


def test_another_processors_layout_from_mapping(tmp_path: Path) -> None:
    cfg = _cfg(
        tmp_path,
        """
chargebacks:
  columns: {case_number: "Case #", transaction_id: "Gateway Ref", stage: "Status", case_date: "Date",
            amount: "Disputed", fee: "", reason_code: "", card: ""}
  stages: {"Open": chargeback}
  date_format: "%m/%d/%Y"
  delimiter: ";"
""",
    )
    parsed = parse_text("Date;Case #;Gateway Ref;Status;Disputed\n05/10/2025;A1;42;open;9.99\n", cfg)  # type: ignore[arg-type]
    (row,) = parsed.rows
    assert (row.case_number, row.transaction_id, row.stage, row.amount) == (
        "A1",
        42,
        "chargeback",
        Decimal("9.99"),
    )


def test_missing_required_column_fails_the_file_and_bad_mapping_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ChargebackFileError, match="no column 'amount'"):
        parse_text("case_number,transaction_id,stage,case_date\n", load_mapping().chargebacks, "f.csv")
    with pytest.raises(ConfigFileError, match=r"chargebacks\.stages"):
        _cfg(tmp_path, "\nchargebacks:\n  stages: {Open: appealed}\n")
    with pytest.raises(ConfigFileError, match="unknown key"):
        _cfg(tmp_path, "\nchargebacks:\n  colums: {}\n")


def test_a_quoted_line_break_stays_one_record_and_rows_are_named_by_their_first_line() -> None:
    """A processor's case note may hold a line break inside quotes: still one record, and the rows after
    it keep the file line they start on."""
    cfg = load_mapping().chargebacks
    text = HEADER + (
        'CB-1,81234567,chargeback,2025-05-10,50.00,15,"10.4\nsee note",\n'
        "CB-2,81234568,chargeback,2025-05-11,five,0,,\n"
        "CB-3,81234569,chargeback,2025-05-12,7.00,0,,\n"
    )
    parsed = parse_text(text, cfg, "f.csv")
    assert parsed.data_rows == 3
    assert [(p.file_row, p.field) for p in parsed.problems] == [(4, "amount")]
    first, third = parsed.rows
    assert (first.case_number, first.file_row, first.reason_code) == ("CB-1", 2, "10.4\nsee note")
    assert (third.case_number, third.file_row) == ("CB-3", 5)


def test_an_unclosed_quote_fails_the_file_naming_the_line() -> None:
    cfg = load_mapping().chargebacks
    with pytest.raises(ChargebackFileError, match=r"f\.csv: line 2: not a CSV record"):
        parse_text(HEADER + 'CB-1,81234567,chargeback,2025-05-10,"50.00\n', cfg, "f.csv")
