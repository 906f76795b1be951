"""Mapping files for tests of the rule logic.

The shipped ``data_contracts/mapping.yaml`` is the SL sandbox's chart with one clearing account; tests of
rule order, brand splits and per-account settlement keys need a chart with more than one. That chart (a
customer's: Amex 1015, cards 1010, bank 1000, refunds 4910) is made *from the shipped file* by replacing
only its accounts, so every other setting the tests see is the shipped one and cannot drift from it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

SHIPPED_MAPPING = Path(__file__).resolve().parents[2] / "data_contracts" / "mapping.yaml"

_TWO_CLEARING_EDITS = (
    (
        "  # - name: amex-clearing\n"
        "  #   when:\n"
        "  #     brand: [amex]\n"
        '  #   clearing: {acct: "1025", sub: "000000"}\n',
        "  - name: amex-clearing\n"
        "    when:\n"
        "      brand: [amex]\n"
        '    clearing: {acct: "1015", sub: "000000"}\n',
    ),
    ('    clearing: {acct: "1020", sub: "000000"}', '    clearing: {acct: "1010", sub: "000000"}'),
    ('refund_account: {acct: "4900", sub: "000000"}', 'refund_account: {acct: "4910", sub: "000000"}'),
    ('bank_account: {acct: "1010", sub: "000000"}', 'bank_account: {acct: "1000", sub: "000000"}'),
)


def _two_clearing_mapping() -> Path:
    text = SHIPPED_MAPPING.read_text(encoding="utf-8")
    for old, new in _TWO_CLEARING_EDITS:
        if text.count(old) != 1:
            raise AssertionError(f"shipped mapping.yaml changed: expected {old!r} once")
        text = text.replace(old, new)
    folder = tempfile.mkdtemp(prefix="ptsl-mapping-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "mapping_two_clearing_accounts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


TWO_CLEARING_MAPPING = _two_clearing_mapping()
