"""Which notice an outcome causes, how an amount is written, and what a notice says."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.domain.attempt import CallResult, Transition
from antaeus_cli.domain.invoice import AttemptOutcome, InvoiceStatus
from antaeus_cli.domain.money import CURRENCIES, display_amount
from antaeus_cli.domain.notices import (
    DECLINE_KINDS,
    MAX_TRIES,
    NoticeKind,
    backoff,
    no_longer_true,
    notice_for,
    notice_key,
)
from antaeus_cli.notify.branding import Branding
from antaeus_cli.notify.letters import Letters
from antaeus_cli.notify.render import Content, event, flat, summary
from antaeus_cli.store.deliveries import Pending

CHARGED = CallResult(AttemptOutcome.CHARGED, None, 1)
DECLINED = CallResult(AttemptOutcome.DECLINED, "no funds", 1)


@pytest.mark.parametrize(
    ("result", "transition", "kind"),
    [
        (CHARGED, Transition(InvoiceStatus.PAID), NoticeKind.RECEIPT),
        (CHARGED, Transition(InvoiceStatus.NEEDS_OPERATOR), NoticeKind.RECEIPT),
        (CHARGED, None, NoticeKind.RECEIPT),
        (
            DECLINED,
            Transition(InvoiceStatus.FAILED, next_retry_on=date(2026, 12, 2)),
            NoticeKind.PAYMENT_FAILED,
        ),
        (DECLINED, Transition(InvoiceStatus.AWAITING_CUSTOMER), NoticeKind.ACTION_REQUIRED),
        (DECLINED, Transition(InvoiceStatus.UNCOLLECTIBLE), NoticeKind.FINAL_NOTICE),
        (DECLINED, Transition(InvoiceStatus.NEEDS_OPERATOR), None),
        (DECLINED, Transition(InvoiceStatus.PENDING), None),
        (CallResult(AttemptOutcome.UNKNOWN, "lost", 2), None, None),
        (
            CallResult(AttemptOutcome.NOT_PROCESSED, "429", 4),
            Transition(InvoiceStatus.PENDING),
            None,
        ),
    ],
)
def test_the_table_of_notices(
    result: CallResult, transition: Transition | None, kind: NoticeKind | None
) -> None:
    assert notice_for(result, transition) is kind


def test_the_key_names_the_attempt_and_the_kind() -> None:
    assert notice_key("ab12-inv-17-2", NoticeKind.RECEIPT) == "ab12-inv-17-2-receipt"


def test_backoff_doubles_to_a_cap_and_the_tries_span_more_than_a_day() -> None:
    waits = [backoff(n) for n in range(1, MAX_TRIES)]
    assert [wait.total_seconds() / 60 for wait in waits[:10]] == [
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        360,
    ]
    assert backoff(0) == backoff(-3) == timedelta(minutes=1)
    assert all(a <= b for a, b in itertools.pairwise(waits))
    assert max(waits) == timedelta(hours=6)
    assert backoff(10**9) == timedelta(hours=6)
    assert sum(waits, timedelta()) > timedelta(days=1)


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (123456, "USD", "$1,234.56"),
        (5, "GBP", "\u00a30.05"),
        (100, "EUR", "\u20ac1.00"),
        (123456789, "DKK", "1.234.567,89\u00a0kr."),
        (123456, "SEK", "1\u00a0234,56\u00a0kr"),
        (-150, "USD", "-$1.50"),
        (1234, "JPY", "\uffe51,234"),  # no minor unit
        (123450, "HUF", "1\u00a0234,50\u00a0Ft"),  # CLDR writes no fillér; the ledger has them
        (99, "CHF", "CHF\u00a00.99"),
        (1230, "BHD", "\u200f1.230\u00a0\u062f.\u0628.\u200f"),  # three decimals; right to left
        (123456, "CVE", "1\u00a0234,56\u00a0CVE"),  # CLDR's symbol shows nothing: the code
        (100, "XYZ", "XYZ 100 (minor units)"),
    ],
)
def test_amounts_are_written_as_each_market_writes_them(
    minor: int, currency: str, shown: str
) -> None:
    assert display_amount(minor, currency) == shown


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([str(c) for c in CURRENCIES]),
)
def test_every_digit_is_kept(minor: int, currency: str) -> None:
    digits = "".join(ch for ch in display_amount(minor, currency) if ch.isdigit())
    assert int(digits) == abs(minor)


@pytest.mark.parametrize("currency", [str(c) for c in CURRENCIES])
def test_every_amount_a_notice_shows_names_its_currency(currency: str) -> None:
    # a locale whose symbol is no visible character (CLDR's CVE in Cabo Verde) would
    # leave a bare number in the customer's notice: its code is written instead
    shown = flat(display_amount(123456, currency))
    named = [ch for ch in shown if not ch.isdigit() and ch not in " .,'\u066b\u066c"]
    assert named, f"{currency}: {shown!r} names no currency"


def pending(kind: NoticeKind, **kw: object) -> Pending:
    fields: dict[str, object] = {
        "id": 1,
        "key": "ns-inv-1-1-" + kind.value,
        "kind": kind,
        "run_id": 3,
        "recipient": "c1@example.com",
        "next_retry_on": None,
        "body": None,
        "tries": 1,
        "created_at": datetime(2026, 12, 1, 0, 5, tzinfo=UTC),
        "invoice_id": 1,
        "customer_id": 1,
        "amount": 12345,
        "currency": "EUR",
        "reference": "pi_1",
        "decline_code": None,
        "decline_class": None,
        "charged_at": datetime(2026, 12, 1, 0, 5, tzinfo=UTC),
    }
    fields.update(kw)
    return Pending(**fields)  # type: ignore[arg-type]


def content(notice: Pending, company: str) -> Content:
    """A notice as the built-in templates write it, for `company`."""
    if notice.kind is NoticeKind.RUN_SUMMARY:
        return summary(notice)
    return Letters(Branding(company=company)).render(notice)


def test_a_receipt_names_the_invoice_the_amount_the_date_and_the_reference() -> None:
    mail = content(pending(NoticeKind.RECEIPT), "Acme")
    assert mail.subject == "Receipt for invoice 1: \u20ac123.45"
    assert "payment of \u20ac123.45 for invoice 1 on December 1, 2026" in mail.text
    assert "Payment reference: pi_1." in mail.text
    assert mail.text.rstrip().endswith("-- \nAcme")


def test_a_decline_says_why_in_plain_words_and_when_the_next_try_is() -> None:
    mail = content(
        pending(
            NoticeKind.PAYMENT_FAILED,
            decline_code="expired_card",
            decline_class="soft",
            next_retry_on=date(2026, 12, 4),
        ),
        "Acme",
    )
    assert "the card has expired" in mail.text
    assert "We will try again on December 4, 2026" in mail.text


def test_a_hard_decline_never_tells_the_customer_why() -> None:
    mail = content(
        pending(NoticeKind.ACTION_REQUIRED, decline_code="stolen_card", decline_class="hard"),
        "Acme",
    )
    assert "stolen" not in mail.text
    assert "cannot be charged again" in mail.text
    assert "We will not try again until you act" in mail.text


def test_a_customer_with_no_card_on_file_is_told_so_not_that_a_bank_asks() -> None:
    mail = content(
        pending(
            NoticeKind.ACTION_REQUIRED,
            decline_code="no_default_payment_method",
            decline_class="needs_customer",
        ),
        "Acme",
    )
    assert "we hold no card or other payment method for you" in mail.text
    assert "your bank needs you" not in mail.text


def test_hostile_text_is_escaped_flattened_and_capped() -> None:
    hostile = "<script>alert(1)</script>\r\nBcc: victim@example.com" + "x" * 500
    mail = content(pending(NoticeKind.RECEIPT, reference=hostile), "Acme <b>&</b>\r\nX-Evil: 1")
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert "\r" not in mail.text
    assert "\nBcc" not in mail.text
    assert "\n" not in mail.subject
    assert "\r" not in mail.subject
    assert max(len(line) for line in mail.text.splitlines()) < 300
    assert "X-Evil: 1" in mail.text  # flattened onto the signature's line, not a header


@given(st.text(max_size=300))
def test_flat_text_holds_no_line_break_or_control_character(text: str) -> None:
    shown = flat(text)
    assert all(ch.isprintable() for ch in shown)
    assert len(shown) <= 120


def test_a_run_summary_lists_what_was_held_and_why() -> None:
    body = (
        '{"command": "bill", "as_of": "2026-12-01", "status": "stopped_outage", '
        '"stop_reason": "provider outage", "needs_operator": 102, '
        '"held": [{"invoice_id": 7, "code": "malformed", "detail": "amount 0"}]}'
    )
    mail = content(pending(NoticeKind.RUN_SUMMARY, body=body, recipient=None), "Acme")
    assert mail.subject == "antaeus: run 3 (bill) stopped_outage: 102 invoices need an operator"
    assert "Invoice 7: malformed: amount 0" in mail.text
    assert "... and 101 more" in mail.text
    broken = content(pending(NoticeKind.RUN_SUMMARY, body="{not json", recipient=None), "Acme")
    assert "run 3" in broken.subject


def test_a_run_that_failed_with_nothing_held_says_why_in_its_subject() -> None:
    body = (
        '{"command": "bill", "as_of": "2026-12-01", "status": "failed", "needs_operator": 0, '
        '"stop_reason": "refused before it began: ANTAEUS_DUNNING: not a schedule"}'
    )
    mail = content(pending(NoticeKind.RUN_SUMMARY, body=body, recipient=None), "Acme")
    assert mail.subject == (
        "antaeus: run 3 (bill) failed: refused before it began: ANTAEUS_DUNNING: not a schedule"
    )
    quiet = body.replace(', "stop_reason": "refused before it began: ANTAEUS_DUNNING: not a '
                         'schedule"', "")  # fmt: skip
    assert content(pending(NoticeKind.RUN_SUMMARY, body=quiet, recipient=None), "Acme").subject == (
        "antaeus: run 3 (bill) failed: nothing needs an operator"
    )


def test_an_event_carries_the_notice_key_as_its_id() -> None:
    sent = event(pending(NoticeKind.PAYMENT_FAILED, next_retry_on=date(2026, 12, 2)))
    assert sent["id"] == "ns-inv-1-1-payment_failed"
    assert sent["type"] == "payment_failed"
    data = sent["data"]
    assert isinstance(data, dict)
    assert (data["amount"], data["currency"], data["next_retry_on"]) == (12345, "EUR", "2026-12-02")


@pytest.mark.parametrize("kind", list(NoticeKind))
@pytest.mark.parametrize("status", [*InvoiceStatus, None])
@pytest.mark.parametrize("latest", [True, False])
def test_a_notice_put_back_must_still_be_true(
    kind: NoticeKind, status: InvoiceStatus | None, latest: bool
) -> None:
    """A receipt and a run summary stay true; a decline notice only while its invoice is
    unpaid (waiting for a retry, its customer or an operator) and its attempt is the
    invoice's latest."""
    why = no_longer_true(kind, None if status is None else status.value, latest)
    unpaid = status in {
        InvoiceStatus.FAILED,
        InvoiceStatus.AWAITING_CUSTOMER,
        InvoiceStatus.UNCOLLECTIBLE,
        InvoiceStatus.NEEDS_OPERATOR,
    }
    if kind not in DECLINE_KINDS or (unpaid and latest):
        assert why is None
    elif not unpaid:
        assert why == (
            f"its invoice is {'gone' if status is None else status.value} now: the decline it "
            "tells of no longer stands"
        )
    else:
        assert why == "its invoice was tried again since: the decline it tells of is not the last"
