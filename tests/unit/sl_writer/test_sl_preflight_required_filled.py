"""``required_filled``: the writer skips the value scan only when every required value is set."""

from __future__ import annotations

from paytrace_sl.sl.preflight import REQUIRED, required_filled


def _row(table: str, **override: object) -> dict[str, object]:
    return {name: "X" for name in REQUIRED[table]} | override


def test_filled_rows() -> None:
    assert required_filled("ARDoc", [_row("ARDoc"), _row("ARDoc", CustId="C200")])
    assert required_filled("GLTran", [])


def test_blank_missing_or_not_text() -> None:
    assert not required_filled("ARDoc", [_row("ARDoc"), _row("ARDoc", CpnyID=" ")])
    assert not required_filled("ARDoc", [_row("ARDoc", PerPost="")])
    assert not required_filled("ARTran", [_row("ARTran", DrCr=None)])
    row = _row("Batch")
    del row["Status"]
    assert not required_filled("Batch", [row])
    assert not required_filled("GLTran", [_row("GLTran", Posted="\t")])
