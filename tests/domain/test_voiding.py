"""Whether an invoice may be voided, and the words a void is recorded with: the money
facts win, and every refusal says what to do instead."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.invoice import InvoiceStatus
from antaeus_cli.domain.voiding import MAX_REASON, VOIDABLE, VoidFacts, reason_refusal, refusal

KEY = "f00d-inv-7-2"


def facts(status: InvoiceStatus, **money: object) -> VoidFacts:
    return VoidFacts(7, 3, 1000, "EUR", "2026-11-01", status, None, None, **money)


@pytest.mark.parametrize("status", sorted(VOIDABLE))
def test_an_invoice_no_money_moved_for_may_be_voided_from_where_it_stands(
    status: InvoiceStatus,
) -> None:
    assert refusal(7, facts(status)) is None
    # another invoice's charge for the month refuses nothing: voiding moves no money
    assert refusal(7, facts(status, month_charged="f00d-inv-8-1")) is None


def test_an_invoice_void_already_is_left_as_it_is_whatever_the_ledger_says() -> None:
    assert refusal(7, facts(InvoiceStatus.VOID, open_key=KEY, charged_key=KEY)) is None


def test_every_status_is_voidable_or_refused_by_its_own_words() -> None:
    """A status added later must be placed: voidable, VOID, or refused for a reason."""
    refused = {InvoiceStatus.PAID, InvoiceStatus.PROCESSING}
    assert VOIDABLE | refused | {InvoiceStatus.VOID} == set(InvoiceStatus)
    assert not VOIDABLE & refused


def test_what_is_not_there_is_said_so() -> None:
    assert refusal(7, None) == "invoice 7 does not exist"


@pytest.mark.parametrize("status", [*sorted(VOIDABLE), InvoiceStatus.PROCESSING])
def test_a_charge_open_or_in_doubt_refuses_the_void_whatever_the_status(
    status: InvoiceStatus,
) -> None:
    assert refusal(7, facts(status, open_key=KEY, charged_key="f00d-inv-7-1")) == (
        f"invoice 7 has a charge open or in doubt (key '{KEY}'): money may have moved; let a "
        "pass settle it first ('antaeus retry-failed' looks it up; 'antaeus report --section "
        "open-attempts' says why it is open), then void it if it was not charged"
    )


def test_a_paid_invoice_is_never_voided() -> None:
    assert refusal(7, facts(InvoiceStatus.PAID, charged_key=KEY)) == (
        f"invoice 7 is PAID under key '{KEY}': money moved, and a paid invoice is never "
        "voided; refund it at the provider"
    )
    # paid before antaeus (imported history): no key to name
    assert refusal(7, facts(InvoiceStatus.PAID)) == (
        "invoice 7 is PAID: money moved, and a paid invoice is never voided; refund it at the "
        "provider"
    )


@pytest.mark.parametrize("status", sorted(VOIDABLE))
def test_an_invoice_the_ledger_says_was_charged_is_never_voided_whatever_its_status(
    status: InvoiceStatus,
) -> None:
    assert refusal(7, facts(status, charged_key=KEY)) == (
        f"invoice 7 is {status.value}, but the ledger says key '{KEY}' charged it (set back "
        "by hand?): money moved, so it is never voided; mark it PAID, or refund it at the "
        "provider"
    )


def test_an_invoice_processing_with_no_charge_open_is_not_voided() -> None:
    assert refusal(7, facts(InvoiceStatus.PROCESSING)) == (
        "invoice 7 is PROCESSING: its charge's outcome is not known, so it is not voided; let "
        "a pass settle it first"
    )


def test_a_key_written_by_hand_is_shown_cut_short() -> None:
    long_key = "k" * 100
    said = refusal(7, facts(InvoiceStatus.PENDING, open_key=long_key))
    assert said is not None
    assert f"(key '{'k' * 80}'):" in said


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("", "--reason must say why the invoice is voided: it is recorded with the void"),
        (" \t ", "--reason must say why the invoice is voided: it is recorded with the void"),
        ("x" * (MAX_REASON + 1), "--reason is 501 characters long; at most 500 are recorded"),
        (" " + "x" * 1500, "--reason is 1,500 characters long; at most 500 are recorded"),
        ("wrong\namount", "--reason must be one line of text, without control characters"),
        ("wrong\x1b[2Jamount", "--reason must be one line of text, without control characters"),
        ("wrong\u2028amount", "--reason must be one line of text, without control characters"),
        ("wrong\u2029amount", "--reason must be one line of text, without control characters"),
        ("wrong\ud800amount", "--reason must be one line of text, without control characters"),
    ],
)
def test_a_reason_is_one_line_of_words(reason: str, why: str) -> None:
    assert reason_refusal(reason) == why


@pytest.mark.parametrize(
    "reason",
    ["x", "x" * MAX_REASON, f"  {'x' * MAX_REASON}\n", "ein Fehler \u2013 korrigiert: \u2713"],
)
def test_a_reason_of_one_line_up_to_the_limit_is_recorded(reason: str) -> None:
    assert reason_refusal(reason) is None
