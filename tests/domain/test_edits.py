"""The rule for answers whose invoice was edited by hand in flight, or cannot hold them."""

from __future__ import annotations

from datetime import date

import pytest

from antaeus_cli.domain.attempt import RESTORE, Attempt, CallResult, Transition
from antaeus_cli.domain.edits import MAX_SHOWN, Found, Ruling, Verdict, rule, unrecordable
from antaeus_cli.domain.invoice import (
    AttemptOutcome,
    DunningState,
    FailureCode,
    Invoice,
    InvoiceStatus,
)
from antaeus_cli.domain.money import Currency, Money

ATTEMPT = Attempt(
    Invoice(7, 3, Money(1000, Currency("EUR"))),
    2,
    "ns-inv-7-2",
    DunningState(1, date(2026, 11, 1)),
    InvoiceStatus.FAILED,
)
CHARGED = CallResult(AttemptOutcome.CHARGED, None, 1, "pi_1")
DECLINED = CallResult(AttemptOutcome.DECLINED, "card_declined", 1)
PAID = Transition(InvoiceStatus.PAID)
AS_CLAIMED = Found("FAILED", 1000, "EUR", 3)


def test_an_invoice_as_claimed_takes_its_answer() -> None:
    assert rule(ATTEMPT, CHARGED, PAID, AS_CLAIMED) == Ruling(Verdict.APPLY)
    left = Found("PROCESSING", 1000, "EUR", 3, left_processing=True)
    assert rule(ATTEMPT, CHARGED, PAID, left) == Ruling(Verdict.APPLY)


def test_a_charge_on_an_edited_invoice_goes_to_an_operator_with_both_figures() -> None:
    ruling = rule(ATTEMPT, CHARGED, PAID, Found("FAILED", 2500, "EUR", 3))
    assert ruling.verdict is Verdict.HOLD
    assert ruling.reason.startswith(
        "the provider charged EUR 10.00 for customer 3 under attempt 2 (pi_1), but the "
        "invoice was changed by hand meanwhile (its amount EUR 10.00 became EUR 25.00)"
    )
    assert ruling.reason.endswith(": compare the two, then refund or settle it by hand")
    assert ruling.rejection() == (FailureCode.EDITED_IN_FLIGHT, ruling.reason)
    bare = CallResult(AttemptOutcome.CHARGED, None, 1)  # a provider with no references
    unnamed = rule(ATTEMPT, bare, PAID, Found("FAILED", 2500, "EUR", 3)).reason
    assert unnamed.startswith("the provider charged EUR 10.00 for customer 3 under attempt 2, ")


def test_odd_values_are_shown_plainly_and_briefly() -> None:
    odd = Found("FAILED", "1000", b"EUR", "x" * (MAX_SHOWN + 1))
    reason = rule(ATTEMPT, CHARGED, PAID, odd).reason
    assert "its amount EUR 10.00 became 1000 b'EUR'" in reason
    assert f"its customer 3 became {'x' * MAX_SHOWN}... ({MAX_SHOWN + 1} chars)" in reason
    exactly = rule(ATTEMPT, CHARGED, PAID, Found("FAILED", 1000, "EUR", "y" * MAX_SHOWN))
    assert f"became {'y' * MAX_SHOWN}):" in exactly.reason
    whole = rule(ATTEMPT, CHARGED, PAID, Found("FAILED", 1000, b"EUR", 42)).reason
    assert "its amount EUR 10.00 became 1000 b'EUR'; its customer 3 became 42)" in whole
    text = rule(ATTEMPT, CHARGED, PAID, Found("FAILED", "2000", "EUR", 3)).reason
    assert "its amount EUR 10.00 became 2000 EUR)" in text
    moved = rule(ATTEMPT, CHARGED, PAID, Found("FAILED", 1000, "USD", 3)).reason
    assert "its amount EUR 10.00 became USD 10.00" in moved
    status = rule(ATTEMPT, CHARGED, PAID, Found("PAID", 1000, "EUR", 3)).reason
    assert "its status FAILED became PAID" in status


def test_no_money_moved_an_edited_figure_waits_and_an_edited_status_stands() -> None:
    held = rule(ATTEMPT, DECLINED, RESTORE, Found("FAILED", 2500, "EUR", 3))
    assert held.verdict is Verdict.HOLD
    assert "the provider answered declined to EUR 10.00 for customer 3: no money moved" in (
        held.reason
    )
    assert "release it with 'retry-failed --invoice'" in held.reason
    assert rule(ATTEMPT, DECLINED, RESTORE, Found("PAID", 1000, "EUR", 3)) == Ruling(Verdict.KEEP)
    assert rule(ATTEMPT, CHARGED, None, Found("PAID", 1000, "EUR", 3)) == Ruling(Verdict.KEEP)


def test_a_deleted_invoice_is_an_orphan() -> None:
    ruling = rule(ATTEMPT, CHARGED, PAID, None)
    assert ruling.verdict is Verdict.ORPHAN
    assert ruling.reason.startswith("invoice 7 was deleted while its charge was in flight")


@pytest.mark.parametrize("outcome", [o for o in AttemptOutcome if not o.is_open])
def test_an_answer_the_invoice_cannot_hold_sends_it_to_an_operator(
    outcome: AttemptOutcome,
) -> None:
    state = DunningState(4, date(2026, 10, 1))
    result = CallResult(outcome, None, 1)
    assert unrecordable(result, state, "decline_count is at its limit") == Transition(
        InvoiceStatus.NEEDS_OPERATOR,
        failure=(
            FailureCode.MALFORMED,
            f"the provider's answer ({outcome}) could not be recorded on this invoice: "
            "decline_count is at its limit; the ledger has it",
        ),
        dunning=state,
    )


@pytest.mark.parametrize("outcome", [o for o in AttemptOutcome if o.is_open])
def test_an_open_answer_leaves_the_invoice_for_its_look_up(outcome: AttemptOutcome) -> None:
    assert unrecordable(CallResult(outcome, None, 1), DunningState(), "x") is None
