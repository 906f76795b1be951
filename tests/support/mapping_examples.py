"""Mapping files for tests of the rule logic.

The shipped ``data_contracts/mapping.yaml`` is the SL sandbox's chart with one clearing account; tests of
rule order, brand splits and per-account settlement keys need a chart with more than one, so they load
``mapping_two_clearing_accounts.yaml`` (a customer's chart: Amex 1015, cards 1010, bank 1000,
refunds 4910).
"""

from __future__ import annotations

from pathlib import Path

TWO_CLEARING_MAPPING = Path(__file__).with_name("mapping_two_clearing_accounts.yaml")
