"""The posting-period rule on its own (sl/periods.py): current period or later, never a closed one."""

from __future__ import annotations

import dataclasses

import pytest

from paytrace_sl.plan import Account
from paytrace_sl.sl.fiscal import FiscalCalendar
from paytrace_sl.sl.periods import PeriodError, posting_period
from paytrace_sl.sl.setup import SLSetup

SETUP = SLSetup(
    cpny_id="CO1",
    cpny_name="Contoso",
    company_ids=("CO1",),
    base_cury_id="USD",
    ledger_id="ACTUAL",
    gl_per_nbr="202505",
    ar_per_nbr="202504",
    ar_account=Account("1200", "000000"),
    checking_account=None,
    refund_account=None,
    prepay_account=None,
    discount_account=None,
    ar_last_bat_nbr="000100",
    ar_last_ref_nbr="000500",
    ar_auto_ref=True,
    gl_last_bat_nbr="000100",
    cury_dec_pl=2,
    fiscal=FiscalCalendar.calendar_year(),
    gl_last_close_per_nbr="202503",
)


@pytest.mark.parametrize(
    ("natural", "module", "per_post", "per_ent", "late"),
    [
        ("202504", "AR", "202504", "202504", False),  # the current AR period
        ("202506", "AR", "202506", "202504", False),  # a future period is kept; PerEnt = period at entry
        ("202503", "AR", "202504", "202504", True),  # closed → the current period
        ("202412", "AR", "202504", "202504", True),  # an earlier fiscal year
        ("202504", "GL", "202505", "202505", True),  # open, but before GL's own current period
        ("202505", "GL", "202505", "202505", False),
    ],
)
def test_current_policy(natural: str, module: str, per_post: str, per_ent: str, late: bool) -> None:
    period = posting_period(natural, module, SETUP, "current")
    assert (period.per_post, period.per_ent, period.natural, period.late) == (
        per_post,
        per_ent,
        natural,
        late,
    )
    assert period.moved is late and period.refused == ""


def test_refuse_policy_names_the_reason() -> None:
    closed = posting_period("202503", "AR", SETUP, "refuse")
    assert closed.refused.startswith("period 202503 is closed in SL (GLSetup.LastClosePerNbr 202503)")
    prior = posting_period("202504", "GL", SETUP, "refuse")
    assert prior.refused.startswith("period 202504 is before SL's current GL period 202505")
    assert not prior.moved and posting_period("202505", "GL", SETUP, "refuse").refused == ""


def test_no_closed_period_and_a_closed_current_period() -> None:
    never_closed = dataclasses.replace(SETUP, gl_last_close_per_nbr="")
    assert posting_period("202504", "AR", never_closed).late is False
    stuck = dataclasses.replace(SETUP, gl_last_close_per_nbr="202504")
    with pytest.raises(PeriodError, match="current AR period 202504 is closed too"):
        posting_period("202503", "AR", stuck)
    assert posting_period("202505", "AR", stuck).per_post == "202505"  # later periods are still open
    with pytest.raises(ValueError, match="late_items"):
        posting_period("202505", "AR", SETUP, "later")
