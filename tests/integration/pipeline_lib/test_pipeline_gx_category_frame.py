"""The validate step's categorical landing frame gives what the plain frame gives: dead letters, the
stored GX results and the Data Docs page of the run."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from test_pipeline_gx_checks import records

from paytrace_sl.pipeline.checks import validate_window
from paytrace_sl.pipeline.contracts import load_contract
from paytrace_sl.pipeline.flows import payments
from paytrace_sl.pipeline.landing import Landing

pytestmark = pytest.mark.integration

LA = ZoneInfo("America/Los_Angeles")
WINDOW = (dt.datetime(2025, 4, 10, 16, tzinfo=LA), dt.datetime(2025, 4, 10, 17, tzinfo=LA))
CONTRACT = load_contract("paytrace_transaction")


def _stored(gx_root: Path, run_id: str, suffix: str) -> list[Path]:
    return sorted(p for p in gx_root.rglob(f"*{suffix}") if run_id in str(p))


def _results(path: Path) -> list[dict[str, Any]]:
    out = []
    for result in json.loads(path.read_text())["results"]:
        result["expectation_config"].pop("id", None)
        out.append(result)
    return out


_VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # GX's ids
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*(?:Z|[+-]\d\d:\d\d)?"  # run times
    r"|\d{8}T\d{6}\.\d+Z"
)


def _page(path: Path, run_id: str) -> str:
    """A run's Data Docs page without what differs between any two runs (run name, times, ids)."""
    return _VARYING.sub("*", path.read_text().replace(run_id, "RUN"))


def test_categorical_frame_validates_as_the_plain_frame(gx_root: Path, tmp_path: Path) -> None:
    rows = records(300)
    for i, row in enumerate(rows):
        row["status_message"] = ("Approved", "Settled")[i % 2]
        row["description"] = f"Order {i % 17}"
    rows[3]["status"] = "lost"
    rows[40]["card_masked"] = "41111111"
    rows[41]["description"] = None
    rows[150]["tax_amount"] = "8.1O"
    rows[299]["status_message"] = "x" * 201
    landing = Landing(tmp_path / "landing", "run-category")
    landing.write_jsonl("tx.jsonl", rows)
    frame = payments._frame_from_jsonl(landing, "tx.jsonl", text_as_category=True)
    assert isinstance(frame["status_message"].dtype, pd.CategoricalDtype)
    plain = pd.DataFrame(list(landing.read_jsonl("tx.jsonl")))

    got = validate_window(frame, contract=CONTRACT, run_id="run-cat", gx_root=gx_root, window=WINDOW)
    expected = validate_window(plain, contract=CONTRACT, run_id="run-plain", gx_root=gx_root, window=WINDOW)

    assert got.dead_letters == expected.dead_letters
    assert sorted(d.row for d in got.dead_letters) == [3, 40, 41, 150, 299]
    assert {d.record_key for d in got.dead_letters} == {str(80_000_000 + i) for i in (3, 40, 41, 150, 299)}
    assert got.statistics == expected.statistics
    (got_json,), (expected_json,) = (
        _stored(gx_root, "run-cat", ".json"),
        _stored(gx_root, "run-plain", ".json"),
    )
    assert _results(got_json) == _results(expected_json)
    (got_html,), (expected_html,) = (
        _stored(gx_root, "run-cat", ".html"),
        _stored(gx_root, "run-plain", ".html"),
    )
    page = got_html.read_text().replace("run-cat", "RUN")
    assert page.count("unexpected") == expected_html.read_text().replace("run-plain", "RUN").count(
        "unexpected"
    )
    assert "41111111" not in page
