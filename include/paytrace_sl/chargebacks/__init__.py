"""Chargebacks and retrievals from the processor's files (issue 16 §2, docs/accounting.md §9).

:mod:`.parse` reads a CSV report (default layout or mapping.yaml ``chargebacks.columns``); :mod:`.flow`
matches each case to the PayTrace transaction SL already holds and writes its stage through the SL
writer (:mod:`paytrace_sl.sl.writer.chargebacks`), exactly once per case and stage.
"""

from __future__ import annotations

from paytrace_sl.chargebacks.flow import ImportSummary, import_chargeback_file
from paytrace_sl.chargebacks.parse import ChargebackFileError, parse_file, parse_text

__all__ = ["ChargebackFileError", "ImportSummary", "import_chargeback_file", "parse_file", "parse_text"]
