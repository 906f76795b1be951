"""The suggester: rapidfuzz comparisons, the auto-link rule, exact and cross-reference first."""

from __future__ import annotations

from paytrace_sl.customers.suggest import Candidate, FuzzySuggester, compare, norm_name
from paytrace_sl.suggestion import PayerFacts, Suggester

SL = [
    Candidate.of(
        "C001", "Garcia Builders Inc.", "jordan.garcia7@example.com", "5095550101", "99201", "12 Main Street"
    ),
    Candidate.of("C002", "Jordan Smith", "jordan.smith2@gmail.com", "2065550102", "98101", "400 Oak Ave"),
    Candidate.of("C003", "Jordan Smith", "jsmith@outlook.com", "5035550103", "97201", "9 Pine St"),
    Candidate.of("C004", "Miller Labs", "info@millerlabs.example.com", "6025550104", "85284", "77 Elm St"),
    Candidate.of("C005", "Old Account", "old@example.com", "3035550105", "80202", "1 Lake Rd", active=False),
]


def suggester(auto_link_threshold: float = 0.9, suggest_threshold: float = 0.55) -> FuzzySuggester:
    return FuzzySuggester(
        SL, {"PTX1": "C004"}, auto_link_threshold=auto_link_threshold, suggest_threshold=suggest_threshold
    )


def test_is_a_suggester() -> None:
    s: Suggester = suggester()
    assert s.suggest(PayerFacts(name="nobody at all")) == []


def test_exact_id_and_cross_reference_come_first() -> None:
    (exact,) = suggester().suggest(PayerFacts(paytrace_customer_id="C002", name="someone else"))
    assert (exact.cust_id, exact.source, exact.auto_link, exact.score) == ("C002", "exact", True, 1.0)
    (xref,) = suggester().suggest(PayerFacts(paytrace_customer_id="PTX1"))
    assert (xref.cust_id, xref.source) == ("C004", "xref")


def test_noisy_payer_is_auto_linked_with_agreeing_fields() -> None:
    payer = PayerFacts(
        paytrace_customer_id="PT9", name="GARCIA BUILDRES, LLC", email="jordan.garcia7@gmail.com",
        phone="(509) 555-0101", postal_code="99201-1234", address="12 Main St.",
    )  # fmt: skip
    best = suggester().suggest(payer)[0]
    assert best.cust_id == "C001" and best.source == "fuzzy" and best.auto_link
    assert set(best.agreed) >= {"name", "email", "phone", "postal_code", "address"}


def test_swapped_name_order_matches() -> None:
    payer = PayerFacts(name="Smith, Jordan", email="jordan.smith2@gmail.com", postal_code="98101")
    best = suggester().suggest(payer)[0]
    assert best.cust_id == "C002" and "name" in best.agreed


def test_name_alone_never_auto_links_and_namesakes_wait() -> None:
    found = suggester().suggest(PayerFacts(name="Jordan Smith"))
    assert found and not any(s.auto_link for s in found)
    assert {s.cust_id for s in found} <= {"C002", "C003"}


def test_role_mailbox_at_another_domain_is_not_the_same_customer() -> None:
    sims = compare(Candidate.of("", "Miller Labs", "info@otherco.example.com"), SL[3])
    assert sims["email"] == 0.0


def test_inactive_customer_is_suggested_but_never_auto_linked() -> None:
    payer = PayerFacts(name="Old Account", email="old@example.com", phone="3035550105", postal_code="80202",
                       address="1 Lake Rd")  # fmt: skip
    best = suggester().suggest(payer)[0]
    assert best.cust_id == "C005" and best.score >= 0.9 and not best.auto_link


def test_threshold_is_configurable() -> None:
    payer = PayerFacts(name="Garcia Builders", email="jordan.garcia7@gmail.com", postal_code="99201")
    assert not suggester(auto_link_threshold=0.99).suggest(payer)[0].auto_link
    assert suggester(suggest_threshold=0.99).suggest(payer) == []


def test_legal_suffixes_are_ignored() -> None:
    assert norm_name("Garcia Builders, Inc.") == norm_name("garcia builders LLC") == "garcia builders"


def test_quoted_invoice_comes_first_and_is_never_auto_linked() -> None:
    s = FuzzySuggester(SL, invoice_lookup={"100234": "C003"}.get)
    payer = PayerFacts(
        name="Jordan Smith", email="jordan.smith2@gmail.com", phone="2065550102", postal_code="98101",
        address="400 Oak Ave", invoice="100234",
    )  # fmt: skip
    first, *rest = s.suggest(payer)
    assert (first.cust_id, first.source, first.auto_link) == ("C003", "invoice", False)
    assert first.agreed[0] == "invoice" and "name" in first.agreed
    assert rest and rest[0].cust_id == "C002" and not rest[0].auto_link  # the invoice and the fields disagree
    assert [x.cust_id for x in s.suggest(PayerFacts(invoice="999999", name="Jordan Smith"))] != ["C003"]
