"""The sandbox's noisy vault: deterministic, ids differ from SL's, ground truth outside the records."""

from __future__ import annotations

import json

from paytrace_sl.customers.profiles import parse_profile
from paytrace_sl_sandbox.vault import noisy_vault, synthetic_sl_customers


def test_noisy_vault_is_deterministic_and_truth_stays_outside() -> None:
    sl = synthetic_sl_customers(200, seed=3)
    a, b = noisy_vault(sl, seed=5), noisy_vault(sl, seed=5)
    assert a.records == b.records and a.truth == b.truth
    ids = {t.cust_id for t in sl}
    assert not ids & set(a.truth)  # vault ids differ from SL's
    text = json.dumps(a.records)
    assert not any(cust in text for cust in ids)  # the ground truth is not in the API answers
    assert {None} < set(a.truth.values())  # decoys and matches
    kinds = {k for ks in a.noise.values() for k in ks}
    assert {"typo", "suffix", "swap", "email_domain", "moved", "phone", "decoy"} <= kinds
    for raw in a.records:
        parse_profile(raw)  # every record is a valid export row
