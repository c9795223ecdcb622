from __future__ import annotations

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
)
from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency, Money


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
    assert check_chargeable(row()) == Invoice(1, 7, Money(1000, Currency.EUR))


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
    assert idempotency_key("ab12cd34", 17, 2) == idempotency_key("ab12cd34", 17, 2)
    assert idempotency_key("ab12cd34", 17, 2) != idempotency_key("ffffffff", 17, 2)
