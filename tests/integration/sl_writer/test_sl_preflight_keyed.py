"""The writer's own preflight reads its batch by the keys it wrote; the findings are the BatNbr path's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from test_sl_preflight_rules import MEMO_BAT, PA_DOC, PAY_BAT, RULES, Breaker, broken, upd, written

from paytrace_sl.sl import catalog
from paytrace_sl.sl.preflight import ERR_CURY_NE_BASE, WrittenKeys, run_preflight

pytestmark = pytest.mark.integration

D, T = catalog.ARDoc, catalog.ARTran
__all__ = ["written"]  # the module-scoped fixture: the plan written once per backend


def _keys(conn: sa.Connection, bat_nbr: str) -> WrittenKeys:
    """The keys of the batch's rows as SL holds them (what the writer would have passed, had it written
    exactly these rows — a breaker that changes a key stands for a writer that wrote that key)."""
    trans = conn.execute(sa.select(T.c.CustId, T.c.TranType, T.c.RefNbr).where(T.c.BatNbr == bat_nbr))
    return WrittenKeys(frozenset((str(a), str(b), str(c)) for a, b, c in trans))


# The AR rules of the fault catalogue (the GL ones never read ARDoc/ARTran), plus the value checks on AR
# rows, which the catalogue plants on GLTran only.
AR_RULES = [r for r in RULES if "GL" not in r[0] and r[0] != "required value blank"] + [
    ("required ARDoc value blank", upd(D, PA_DOC, CpnyID=" "), 90322),
    ("required ARTran value blank", upd(T, [T.c.BatNbr == MEMO_BAT, T.c.TranType == "DM"], DrCr=" "), 90322),
]


@pytest.mark.parametrize(("name", "breaker", "error"), AR_RULES, ids=[r[0] for r in AR_RULES])
@pytest.mark.parametrize("bat_nbr", [PAY_BAT, MEMO_BAT])
def test_keyed_findings_equal_batnbr_findings(
    written: sa.Engine, bat_nbr: str, name: str, breaker: Breaker, error: int
) -> None:
    """Every planted AR fault, on each AR batch: keyed = by BatNbr = the whole-scope run's for the batch."""
    with broken(written, breaker) as conn:
        keys = _keys(conn, bat_nbr)
        by_batnbr = run_preflight(conn, module="AR", bat_nbr=bat_nbr)
        keyed = run_preflight(conn, module="AR", bat_nbr=bat_nbr, keys=keys)
        everything = [f for f in run_preflight(conn, module="AR") if f.bat_nbr == bat_nbr]
    assert keyed == by_batnbr, name
    assert by_batnbr == everything, name
    if any(f.error == error and f.bat_nbr == bat_nbr for f in everything):
        assert error in {f.error for f in keyed}, name


def test_every_rule_is_seen_by_the_keyed_path(written: sa.Engine) -> None:
    """The comparison above is not vacuous: each AR rule's error is found on one of the two batches."""
    for name, breaker, error in AR_RULES:
        found: set[int] = set()
        with broken(written, breaker) as conn:
            for bat_nbr in (PAY_BAT, MEMO_BAT):
                keys = _keys(conn, bat_nbr)
                found |= {f.error for f in run_preflight(conn, module="AR", bat_nbr=bat_nbr, keys=keys)}
        assert error in found, name


def test_a_key_left_out_is_a_row_missed(written: sa.Engine) -> None:
    """The keyed path reads only the keys it is given: drop the payment's line keys and its fault is
    no longer seen (so the equality test above would fail if the keyed read missed rows)."""
    bad_line = [T.c.BatNbr == PAY_BAT, T.c.DrCr == "U"]
    with broken(written, upd(T, bad_line, TranAmt=251.0)) as conn:
        keys = _keys(conn, PAY_BAT)
        assert ERR_CURY_NE_BASE in {
            f.error for f in run_preflight(conn, module="AR", bat_nbr=PAY_BAT, keys=keys)
        }
        pa_line = next(k for k in keys.trans if k[1].strip() == "PA" and k[2].strip() == "81234567")
        short = WrittenKeys(keys.trans - {pa_line})
        missed = run_preflight(conn, module="AR", bat_nbr=PAY_BAT, keys=short)
    assert ERR_CURY_NE_BASE not in {f.error for f in missed}
