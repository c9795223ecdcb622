from __future__ import annotations

from datetime import date

import pytest

from antaeus_cli.domain.invoice import (
    DunningState,
    FailureCode,
    Invoice,
    InvoiceRow,
    InvoiceStatus,
    Rejection,
    check_chargeable,
    idempotency_key,
    is_customer_ref,
)
from antaeus_cli.domain.judgement import Path, judge
from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency, Money, format_minor


def row(
    amount: object = 1000,
    currency: object = "EUR",
    customer_id: object = 7,
    customer_currency: object = "EUR",
) -> InvoiceRow:
    return InvoiceRow(
        id=1,
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        customer_currency=customer_currency,
        status=InvoiceStatus.PENDING,
        dunning=DunningState(),
    )


def test_a_sound_invoice_is_chargeable() -> None:
    assert check_chargeable(row()) == Invoice(1, 7, Money(1000, Currency("EUR")))


@pytest.mark.parametrize(
    ("bad", "code", "fragment"),
    [
        (row(amount=0), FailureCode.MALFORMED, "positive"),
        (row(amount=-5), FailureCode.MALFORMED, "positive"),
        (row(amount=True), FailureCode.MALFORMED, "positive"),
        (row(amount="1000"), FailureCode.MALFORMED, "positive"),
        (row(amount=10.5), FailureCode.MALFORMED, "positive"),
        (row(amount=MAX_CHARGE_MINOR + 1), FailureCode.MALFORMED, "sanity limit"),
        (row(currency="XYZ"), FailureCode.MALFORMED, "unknown currency"),
        (row(currency="eur"), FailureCode.MALFORMED, "unknown currency"),
        (row(currency="EUR'; DROP TABLE invoice;--"), FailureCode.MALFORMED, "unknown currency"),
        (row(customer_currency=None), FailureCode.MALFORMED, "does not exist"),
        (row(customer_id="7"), FailureCode.MALFORMED, "does not exist"),
        (row(customer_currency="USD"), FailureCode.CURRENCY_MISMATCH, "billed in USD"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason(
    bad: InvoiceRow, code: FailureCode, fragment: str
) -> None:
    checked = check_chargeable(bad)
    assert isinstance(checked, Rejection)
    assert checked.code is code
    assert fragment in checked.detail


def test_the_largest_sane_amount_is_still_chargeable() -> None:
    assert isinstance(check_chargeable(row(amount=MAX_CHARGE_MINOR)), Invoice)


def test_keys_are_deterministic_per_invoice_and_attempt() -> None:
    assert idempotency_key("ab12cd34", 17, 2) == "ab12cd34-inv-17-2"
    assert idempotency_key("ab12cd34", 17, 2) != idempotency_key("ffffffff", 17, 2)


def held(**fields: object) -> Rejection:
    """Why the judgement every path asks (domain.judgement) holds a due invoice."""
    due = {"due_date": "2026-12-01", **fields}
    checked = judge(Path.BILL, row()._replace(**due), date(2026, 12, 1))
    assert isinstance(checked, Rejection)
    return checked


def test_the_smallest_amount_is_chargeable() -> None:
    assert check_chargeable(row(amount=1)) == Invoice(1, 7, Money(1, Currency("EUR")))


def test_an_invoice_its_ledger_says_was_charged_is_never_charged_again() -> None:
    assert held(charged_before=True, last_attempt_no=3) == Rejection(
        FailureCode.ALREADY_CHARGED,
        "attempt 3 charged this invoice already (the ledger says so), yet it is due again: "
        "was it set back by hand? Mark it PAID, or bill the customer with a new invoice; "
        "it is never charged twice",
    )


def test_the_providers_customer_id_travels_with_the_invoice() -> None:
    checked = check_chargeable(row()._replace(customer_ref="cus_Q1w2E3"))
    assert checked == Invoice(1, 7, Money(1000, Currency("EUR")), "cus_Q1w2E3")


@pytest.mark.parametrize("ref", ["", "cus 1", "cus_\u00e9", "x" * 256, 42])
def test_a_malformed_customer_id_is_held_before_the_provider_hears_of_it(ref: object) -> None:
    assert held(customer_ref=ref) == Rejection(
        FailureCode.MALFORMED,
        f"customer 7 has a malformed provider_ref {str(ref)[:40]!r}: expected the provider's "
        "id, 1 to 255 printable ASCII characters, no spaces",
    )


@pytest.mark.parametrize(
    ("ref", "accepted"),
    [
        ("c", True),
        ("x" * 255, True),
        ("!~", True),  # the first and the last printable ASCII characters
        ("cus_AbZ09-._", True),
        ("", False),
        ("x" * 256, False),
        ("cus 1", False),
        ("cus\x7f", False),
        ("cus\t1", False),
        ("cus_\u00e9", False),
        (b"cus_1", False),
        (None, False),
    ],
)
def test_a_customer_id_is_one_to_255_printable_ascii_characters(
    ref: object, accepted: bool
) -> None:
    assert is_customer_ref(ref) is accepted


def test_a_second_invoice_for_the_same_month_is_held() -> None:
    assert held(duplicate_of=12) == Rejection(
        FailureCode.DUPLICATE_PERIOD,
        "invoice 12 bills customer 7 for the same month: never charged twice for one period; "
        "release the one that is owed with 'retry-failed --invoice', and void the other with "
        "'antaeus void'",
    )


@pytest.mark.parametrize(
    ("amount", "usual", "times"),
    [
        (125_000, 1000, "125 times"),
        (125_099, 1000, "125 times"),  # whole times, rounded down
        (5000, 1, "5000 times"),
        (5000, 0, "far above"),  # every paid invoice was free
    ],
)
def test_an_amount_far_above_the_usual_one_is_held_with_both_amounts(
    amount: int, usual: int, times: str
) -> None:
    shown, usually = format_minor(amount, "EUR"), format_minor(usual, "EUR")
    assert held(amount=amount, usual_amount=usual) == Rejection(
        FailureCode.AMOUNT_ANOMALY,
        f"{shown} is {times} what customer 7 usually pays (the median of their paid invoices "
        f"is {usually}): held as a likely mistake before the provider heard of it; if it is "
        "right, release it with 'retry-failed --invoice'",
    )


def test_a_ledger_numbered_past_what_a_claim_reads_is_held_with_the_next_step() -> None:
    from antaeus_cli.domain.invoice import MAX_ATTEMPT_NO

    assert held(last_attempt_no=MAX_ATTEMPT_NO) == Rejection(
        FailureCode.MALFORMED,
        f"its ledger numbers an attempt {MAX_ATTEMPT_NO} or more, past the last number a key "
        "can take: was the attempt written by hand? Settle the invoice by hand; nothing was "
        "sent",
    )
    assert not isinstance(
        check_chargeable(row()._replace(last_attempt_no=MAX_ATTEMPT_NO - 1)), Rejection
    )
