"""mapping.yaml loading: the shipped file is valid; mistakes are reported with the line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from mapping_examples import TWO_CLEARING_MAPPING

from paytrace_sl.pipeline.mapping import ConfigFileError, load_mapping
from paytrace_sl.plan import Account
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig

# Error reporting is checked on a mapping with brand rules (the shipped one has a single catch-all rule).
GOOD = TWO_CLEARING_MAPPING.read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_shipped_mapping_loads_with_documented_defaults() -> None:
    m = load_mapping()
    assert m.timezone == "America/Los_Angeles"
    assert m.action_for("sale") == "payment" and m.action_for("CAPTURE") == "payment"
    assert m.action_for("REFUND") == "refund" and m.action_for("AUTHORIZATION") == "await_capture"
    assert m.action_for("SOMETHING-NEW") == "ignore"
    assert m.sl_doc_types == {"payment": "PA", "refund": "CM"}
    assert m.gl_rules[-1].is_catch_all
    assert m.bank_account == Account("1010", "000000") and m.settlement_planned
    assert m.batch_status == "H" and m.batch_grouping == "day"
    assert m.batch_max_documents == 5000  # batches.max_documents
    assert m.customers.strategy == ("exact", "xref", "invoice")
    assert m.late_items == "current"  # periods.late_items: late items go to SL's current period


def test_shipped_mapping_uses_the_sl_sandbox_chart() -> None:
    """The demo, ``make airflow`` and the tests run on the shipped file: its accounts are the sandbox's."""
    m = load_mapping()
    sandbox = SandboxSLConfig()
    chart = {a.acct for a in sandbox.accounts}
    used = [rule.clearing for rule in m.gl_rules] + [m.refund_account, m.bank_account]
    assert all(a is not None and a.acct in chart and a.sub == "000000" for a in used), used
    assert [rule.clearing.acct for rule in m.gl_rules] == ["1020"]  # card clearing
    assert m.refund_account == Account("4900", "000000")  # sales returns
    assert m.bank_account == Account(sandbox.checking_acct, "000000")  # the operating bank account
    assert m.customers.unmatched == "review"


@pytest.mark.parametrize(
    ("old", "new", "needle", "reason"),
    [
        ("timezone: America/Los_Angeles", "timezone: Mars/Olympus", "timezone:", "unknown time zone"),
        ('clearing: {acct: "1015"', 'clearing: {acct: "10151015101"', '"10151015101"', "longer than 10"),
        ("  status: H", "  status: X", "  status: X", "must be one of H, B"),
        ("  grouping: day", "  grouping: weekly", "grouping: weekly", "must be one of day, window"),
        ("  CAPTURE: payment", "  CAPTURE: pay", "CAPTURE: pay", "must be one of payment"),
        ("      brand: [amex]", "      brand: [amexx]", "brand: [amexx]", "must be one of visa"),
        ("  lookback_days: 3", "  lookback_days: -1", "lookback_days", "must be >= 0"),
        ("  lookback_hours: 0", "  lookbak_hours: 0", "lookbak_hours", "unknown key"),
        ("  unmatched: review", "  unmatched: unidentified", 'unidentified_customer_id: ""', "required when"),
        ('  schedule: "15 * * * *"', "  schedule: hourly", "schedule: hourly", "cron"),
        ("  late_items: current", "  late_items: previous", "late_items: previous", "must be one of current"),
        ("  late_items: current", "  late_item: current", "late_item: current", "unknown key"),
        ("  max_documents: 5000", "  max_documents: -1", "max_documents: -1", "must be >= 0"),
        ("  max_documents: 5000", "  max_documents: many", "max_documents: many", "must be an integer"),
    ],
)
def test_bad_values_report_line_and_reason(
    tmp_path: Path, old: str, new: str, needle: str, reason: str
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    with pytest.raises(ConfigFileError) as info:
        load_mapping(write(tmp_path, text))
    err = info.value
    assert reason in err.reason
    assert err.line == line_of(text, needle), str(err)
    assert str(err).startswith(f"{tmp_path / 'mapping.yaml'}:{err.line}: ")


def test_invalid_regex_in_rule(tmp_path: Path) -> None:
    text = GOOD.replace("      brand: [amex]", "      invoice_pattern: '^(WEB'")
    with pytest.raises(ConfigFileError, match="invalid regex") as info:
        load_mapping(write(tmp_path, text))
    assert info.value.line == line_of(text, "invoice_pattern: '")


def test_last_rule_must_be_catch_all(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - name: card-clearing\n", "  - name: card-clearing\n    when:\n      channel: [API]\n"
    )
    with pytest.raises(ConfigFileError, match="catch-all") as info:
        load_mapping(write(tmp_path, text))
    assert info.value.line == line_of(text, "- name: card-clearing")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    text = GOOD.replace('company: ""', "company: [unclosed")
    with pytest.raises(ConfigFileError, match="YAML syntax error") as info:
        load_mapping(write(tmp_path, text))
    assert info.value.line is not None and info.value.line >= line_of(text, "company: [unclosed")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read file"):
        load_mapping(tmp_path / "nope.yaml")


def test_optional_bank_account_absent_or_equal_to_clearing_means_no_settlement(tmp_path: Path) -> None:
    no_bank = GOOD.replace('  bank_account: {acct: "1000", sub: "000000"}\n', "")
    assert not load_mapping(write(tmp_path, no_bank)).settlement_planned
    same = GOOD.replace('bank_account: {acct: "1000"', 'bank_account: {acct: "1010"')
    assert not load_mapping(write(tmp_path, same)).settlement_planned


def test_late_items_refuse_and_default(tmp_path: Path) -> None:
    refuse = GOOD.replace("  late_items: current", "  late_items: refuse", 1)
    assert load_mapping(write(tmp_path, refuse)).late_items == "refuse"
    without = GOOD.replace("periods:\n", "", 1).replace("  late_items: current\n", "", 1)
    assert "late_items" not in without
    assert load_mapping(write(tmp_path, without)).late_items == "current"


def test_sl_pending_cache_defaults_on_and_can_be_turned_off(tmp_path: Path) -> None:
    assert load_mapping(write(tmp_path, GOOD)).sl_pending_cache  # absent: on
    off = load_mapping(write(tmp_path, GOOD + "sl:\n  pending_cache: false\n"))
    assert off.sl_pending_cache is False
    with pytest.raises(ConfigFileError, match="must be true or false"):
        load_mapping(write(tmp_path, GOOD + "sl:\n  pending_cache: 'no'\n"))
    with pytest.raises(ConfigFileError, match="unknown key"):
        load_mapping(write(tmp_path, GOOD + "sl:\n  pending_cash: false\n"))
