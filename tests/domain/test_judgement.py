"""The one judgement every charge asks (domain.judgement): each rule of its table on
each path, what an operator's word releases and what it never does, where a hold puts
its invoice, and when a replay may be sent again."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from antaeus_cli.domain.invoice import (
    NEVER_DECLINED,
    DunningState,
    FailureCode,
    Invoice,
    InvoiceRow,
    InvoiceStatus,
    Rejection,
)
from antaeus_cli.domain.judgement import (
    AFTER_WINDOW,
    FIRST_WALK,
    IN_FLIGHT,
    NOT_DUE,
    NOT_RETRY_DAY,
    VOIDED,
    InvoiceNow,
    MonthNow,
    Path,
    Verdict,
    Wait,
    held_status,
    judge,
    month_hold_now,
    month_of,
    released,
    replay_verdict,
    twin_bills,
    twin_named,
)
from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency, Money

TODAY = date(2026, 12, 1)  # the customer's local date
GO = Invoice(7, 3, Money(1000, Currency("EUR")), "cus_3")
EVERY_PATH = list(Path)
# What an operator may name (billing.sources.REFUSED_BY_NAME refuses the rest).
NAMEABLE = [
    InvoiceStatus.FAILED,
    InvoiceStatus.NEEDS_OPERATOR,
    InvoiceStatus.UNCOLLECTIBLE,
    InvoiceStatus.AWAITING_CUSTOMER,
]
# Why an invoice is where it is, as each status stores it: an operator's word
# releases exactly the hold its own failure code (or status) names.
CODES_OF: dict[InvoiceStatus, list[FailureCode]] = {
    InvoiceStatus.FAILED: [FailureCode.DECLINED],
    InvoiceStatus.UNCOLLECTIBLE: [FailureCode.DUNNING_EXHAUSTED],
    InvoiceStatus.AWAITING_CUSTOMER: [FailureCode.HARD_DECLINE, FailureCode.NEEDS_CUSTOMER],
    InvoiceStatus.NEEDS_OPERATOR: [
        code
        for code in FailureCode
        if code not in (FailureCode.HARD_DECLINE, FailureCode.NEEDS_CUSTOMER)
    ],
}
HELD_NAMED = [(status, code) for status in NAMEABLE for code in CODES_OF[status]]


def row(path: Path = Path.BILL, **fields: Any) -> InvoiceRow:
    """An invoice each path would charge today; `fields` break one rule at a time."""
    base: dict[str, Any] = {
        "id": 7,
        "customer_id": 3,
        "amount": 1000,
        "currency": "EUR",
        "customer_currency": "EUR",
        "status": InvoiceStatus.PENDING,
        "dunning": NEVER_DECLINED,
        "customer_ref": "cus_3",
        "due_date": "2026-11-01",
    }
    if path is Path.BILL_HANDED_BACK:
        base.update(last_attempt_no=1, handed_back=True)
    elif path in (Path.RETRY, Path.NAMED):
        base.update(
            status=InvoiceStatus.FAILED,
            dunning=DunningState(1, date(2026, 11, 1)),
            last_attempt_no=1,
            next_retry_on="2026-11-30",
            failure_code="declined",
        )
    return InvoiceRow(**{**base, **fields})


def named(status: InvoiceStatus, code: FailureCode | None, **fields: Any) -> InvoiceRow:
    """An invoice an operator named, held as `status` for `code`, with what its hold
    showed: every guard hold names its customer (3)."""
    shown = f"held for customer {fields.get('customer_id', 3)}, as the hold showed"
    return row(
        Path.NAMED,
        status=status,
        failure_code=None if code is None else code.value,
        **{"failure_detail": shown, **fields},
    )


def rejected(verdict: Verdict, code: FailureCode) -> Rejection:
    assert isinstance(verdict, Rejection), verdict
    assert verdict.code is code, verdict
    return verdict


# -- a sound invoice -------------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
def test_an_invoice_that_breaks_no_rule_is_charged_on_every_path(path: Path) -> None:
    assert judge(path, row(path), TODAY) == GO


@pytest.mark.parametrize(("status", "code"), HELD_NAMED)
def test_an_operator_may_charge_any_invoice_held_for_a_cause_now_fixed(
    status: InvoiceStatus, code: FailureCode
) -> None:
    assert judge(Path.NAMED, named(status, code), TODAY) == GO


# -- void --------------------------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
def test_a_void_invoice_is_never_charged_and_never_held_on_any_path(path: Path) -> None:
    """Whatever else is true of it, sound or in flight or broken: it is left as it is."""
    assert judge(path, row(path, status=InvoiceStatus.VOID), TODAY) is VOIDED
    everything_wrong = row(
        path,
        status=InvoiceStatus.VOID,
        in_flight=True,
        amount=-1,
        due_date="2027-01-01",
        charged_before=True,
        card_refused=True,
        month_charged="k",
        duplicate_of=9,
        usual_amount=1,
    )
    assert judge(path, everything_wrong, None) is VOIDED
    assert isinstance(VOIDED, Wait)  # nothing recorded: no hold moves it out of VOID


def test_no_word_of_an_operator_releases_a_void_invoice() -> None:
    void = named(InvoiceStatus.VOID, None)
    assert released(Path.NAMED, void) == frozenset()
    assert judge(Path.NAMED, void, TODAY, {(3, "2026-11"): 7}) is VOIDED


# -- in flight ---------------------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
def test_an_invoice_in_flight_is_left_to_its_replay_before_any_other_rule(path: Path) -> None:
    everything_wrong = row(
        path,
        in_flight=True,
        amount=-1,
        due_date="2027-01-01",
        charged_before=True,
        card_refused=True,
        month_charged="k",
        duplicate_of=9,
        usual_amount=1,
    )
    assert judge(path, everything_wrong, None) is IN_FLIGHT
    assert judge(path, row(path, in_flight=True), TODAY) is IN_FLIGHT


@pytest.mark.parametrize(("status", "code"), HELD_NAMED)
def test_no_word_of_an_operator_sends_a_second_charge_while_one_is_in_flight(
    status: InvoiceStatus, code: FailureCode
) -> None:
    assert judge(Path.NAMED, named(status, code, in_flight=True), TODAY) is IN_FLIGHT


# -- zone --------------------------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
def test_an_invoice_whose_customer_zone_is_unknown_is_held_on_every_path(path: Path) -> None:
    # asked before the due date: a date cannot be told where the zone is unknown
    unknown = row(path, timezone="Mars/Olympus", due_date="2027-01-01")
    held = rejected(judge(path, unknown, None), FailureCode.MALFORMED)
    assert "'Mars/Olympus', which the zone database does not know" in held.detail
    assert held_status(held) is InvoiceStatus.NEEDS_OPERATOR


@pytest.mark.parametrize(("status", "code"), HELD_NAMED)
def test_an_operator_word_never_releases_an_unknown_zone(
    status: InvoiceStatus, code: FailureCode
) -> None:
    verdict = judge(Path.NAMED, named(status, code, timezone="Mars/Olympus"), None)
    rejected(verdict, FailureCode.MALFORMED)


# -- due ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
@pytest.mark.parametrize(
    ("due_date", "due"),
    [
        ("2026-11-30", True),
        ("2026-12-01", True),  # it has begun: the customer's local date is that day
        ("2026-12-02", False),
        ("2027-01-01", False),
        (None, False),  # as stored, no date is not a date that has begun
        (20261201, False),
    ],
)
def test_an_invoice_is_never_charged_before_its_due_date_on_any_path(
    path: Path, due_date: object, due: bool
) -> None:
    verdict = judge(path, row(path, due_date=due_date), TODAY)
    assert verdict == (GO if due else NOT_DUE)


@pytest.mark.parametrize(("status", "code"), HELD_NAMED)
def test_an_operator_word_never_releases_the_due_date(
    status: InvoiceStatus, code: FailureCode
) -> None:
    """Whatever the invoice is held for, and whatever else is wrong with it after its
    due date (all asked later), naming it does not charge it early."""
    early = named(
        status,
        code,
        due_date="2026-12-02",
        card_refused=True,
        month_charged="k",
        duplicate_of=9,
        usual_amount=1,
        charged_before=True,
        amount=0,
    )
    assert judge(Path.NAMED, early, TODAY) is NOT_DUE


# -- retry date --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_on", "begun"),
    [("2026-11-30", True), ("2026-12-01", True), ("2026-12-02", False), (None, False)],
)
def test_a_scheduled_retry_waits_for_its_retry_date(retry_on: object, begun: bool) -> None:
    verdict = judge(Path.RETRY, row(Path.RETRY, next_retry_on=retry_on), TODAY)
    assert verdict == (GO if begun else NOT_RETRY_DAY)


def test_the_due_date_is_asked_before_the_retry_date() -> None:
    both = row(Path.RETRY, due_date="2026-12-02", next_retry_on="2026-12-02")
    assert judge(Path.RETRY, both, TODAY) is NOT_DUE


@pytest.mark.parametrize("path", [Path.BILL, Path.BILL_HANDED_BACK, Path.NAMED])
def test_only_a_scheduled_retry_asks_the_retry_date(path: Path) -> None:
    """bill charges PENDING invoices, which have none; an operator's word retries now."""
    assert judge(path, row(path, next_retry_on="2027-01-01"), TODAY) == GO


# -- after the breaker -------------------------------------------------------------


def test_bill_first_walk_leaves_what_a_tripped_breaker_handed_back() -> None:
    assert judge(Path.BILL, row(Path.BILL_HANDED_BACK), TODAY) is AFTER_WINDOW


def test_bill_second_walk_charges_only_what_was_handed_back() -> None:
    assert judge(Path.BILL_HANDED_BACK, row(Path.BILL), TODAY) is FIRST_WALK


def test_the_breaker_walks_are_asked_after_the_dates() -> None:
    early = row(Path.BILL_HANDED_BACK, due_date="2026-12-02")
    assert judge(Path.BILL, early, TODAY) is NOT_DUE
    assert judge(Path.BILL_HANDED_BACK, row(Path.BILL, due_date="2026-12-02"), TODAY) is NOT_DUE


@pytest.mark.parametrize("path", [Path.RETRY, Path.NAMED])
def test_the_breaker_walks_are_bill_s_alone(path: Path) -> None:
    assert judge(path, row(path, handed_back=True), TODAY) == GO


def test_a_wait_records_nothing_and_a_hold_records_why() -> None:
    for wait in (IN_FLIGHT, NOT_DUE, NOT_RETRY_DAY, AFTER_WINDOW, FIRST_WALK):
        assert isinstance(wait, Wait)
        assert not isinstance(wait, Rejection)
        assert wait.why


# -- charged once and well formed ------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
def test_an_invoice_its_own_latest_attempt_charged_is_held_on_every_path(path: Path) -> None:
    held = rejected(
        judge(path, row(path, charged_before=True, last_attempt_no=2), TODAY),
        FailureCode.ALREADY_CHARGED,
    )
    assert "attempt 2 charged this invoice already" in held.detail
    assert held_status(held) is InvoiceStatus.NEEDS_OPERATOR


@pytest.mark.parametrize(("status", "code"), HELD_NAMED)
def test_an_operator_word_never_charges_an_invoice_twice(
    status: InvoiceStatus, code: FailureCode
) -> None:
    verdict = judge(Path.NAMED, named(status, code, charged_before=True), TODAY)
    rejected(verdict, FailureCode.ALREADY_CHARGED)


@pytest.mark.parametrize("path", EVERY_PATH)
@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"amount": 0}, FailureCode.MALFORMED),
        ({"amount": MAX_CHARGE_MINOR + 1}, FailureCode.MALFORMED),
        ({"currency": "XYZ"}, FailureCode.MALFORMED),
        ({"customer_currency": None}, FailureCode.MALFORMED),
        ({"customer_ref": "cus 3"}, FailureCode.MALFORMED),
        ({"customer_currency": "USD"}, FailureCode.CURRENCY_MISMATCH),
    ],
)
def test_a_malformed_invoice_is_held_on_every_path(
    path: Path, fields: dict[str, Any], code: FailureCode
) -> None:
    held = rejected(judge(path, row(path, **fields), TODAY), code)
    assert held_status(held) is InvoiceStatus.NEEDS_OPERATOR


@pytest.mark.parametrize(("status", "code"), HELD_NAMED)
def test_an_operator_word_never_sends_a_malformed_invoice(
    status: InvoiceStatus, code: FailureCode
) -> None:
    rejected(judge(Path.NAMED, named(status, code, amount=-5), TODAY), FailureCode.MALFORMED)


# -- the card said never -----------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
def test_a_card_that_said_never_is_held_for_its_customer(path: Path) -> None:
    """A hard decline or a card that needs its holder, set back to PENDING or FAILED
    by hand (or handed back by a tripped breaker): held for the customer again."""
    refused = row(path, card_refused=True, last_attempt_no=4)
    if path is Path.NAMED:  # not released: it is not AWAITING_CUSTOMER
        refused = refused._replace(status=InvoiceStatus.FAILED)
    held = rejected(judge(path, refused, TODAY), FailureCode.HARD_DECLINE)
    assert "attempt 4 was answered with a hard decline" in held.detail
    assert held_status(held) is InvoiceStatus.AWAITING_CUSTOMER


@pytest.mark.parametrize("code", CODES_OF[InvoiceStatus.AWAITING_CUSTOMER])
def test_an_operator_word_releases_the_card_of_an_invoice_awaiting_its_customer(
    code: FailureCode,
) -> None:
    awaiting = named(InvoiceStatus.AWAITING_CUSTOMER, code, card_refused=True)
    assert judge(Path.NAMED, awaiting, TODAY) == GO


@pytest.mark.parametrize(
    ("status", "code"),
    [(s, c) for s, c in HELD_NAMED if s is not InvoiceStatus.AWAITING_CUSTOMER],
)
def test_naming_an_invoice_not_awaiting_its_customer_releases_the_card_only_past_a_guard(
    status: InvoiceStatus, code: FailureCode
) -> None:
    """A guard-rail hold on an invoice whose card said never was reached past the card
    rule, which is asked first: by an earlier word, which stands. Any other hold was
    not, and the card rule holds it."""
    verdict = judge(Path.NAMED, named(status, code, card_refused=True), TODAY)
    guard = status is InvoiceStatus.NEEDS_OPERATOR and code in {
        FailureCode.DUPLICATE_PERIOD,
        FailureCode.AMOUNT_ANOMALY,
    }
    if guard:
        assert isinstance(verdict, Invoice), verdict
    else:
        rejected(verdict, FailureCode.HARD_DECLINE)


# -- one charge a month ----------------------------------------------------------------


# -- a hold for the month, once its twin is charged, voided or gone ---------------------

NOW_BILLED = MonthNow(3, "2026-11", 8, "NEEDS_OPERATOR", True, 8, None)


def test_a_hold_for_the_month_by_the_rows_names_its_twin_and_no_charge() -> None:
    held = rejected(judge(Path.BILL, row(duplicate_of=8), TODAY), FailureCode.DUPLICATE_PERIOD)
    assert held.detail == twin_bills(8, 3)
    assert twin_named(held.detail) == 8
    assert "both are held" not in held.detail  # true however the twin is held or released
    money = rejected(
        judge(Path.BILL, row(month_charged="k-1"), TODAY), FailureCode.DUPLICATE_PERIOD
    )
    assert twin_named(money.detail) is None  # a charge that moved money stays moved
    # the holds written before this wording name their twin alike
    old = "invoice 12 bills customer 7 for the same month: both are held, never charged twice"
    assert twin_named(old) == 12
    assert twin_named(None) is None


@pytest.mark.parametrize(
    ("detail", "named"),
    [
        ("invoice 9223372036854775807 bills customer 1 for", 2**63 - 1),
        ("invoice -9223372036854775808 bills customer 1 for", -(2**63)),
        ("invoice 9223372036854775808 bills customer 1 for", None),  # no row id is
        ("invoice " + "9" * 5000 + " bills customer 1 for", None),  # past int()'s limit
        ("invoice 12 is held for customer 1", None),
        (b"invoice 12 bills customer 1 for", None),
    ],
)
def test_a_hold_written_by_hand_names_a_twin_only_where_a_row_id_could_be(
    detail: object, named: int | None
) -> None:
    assert twin_named(detail) == named


def test_a_hold_whose_twin_still_bills_the_month_says_what_it_said() -> None:
    assert month_hold_now(NOW_BILLED) == twin_bills(8, 3)
    # released and declined since: it still bills the month
    assert month_hold_now(NOW_BILLED._replace(named_status="FAILED")) == twin_bills(8, 3)
    # a third invoice for the month besides: the hold keeps naming the one it named
    assert month_hold_now(NOW_BILLED._replace(twin=5)) == twin_bills(8, 3)


def test_a_hold_whose_month_was_charged_since_names_the_invoice_not_the_key() -> None:
    """The money first: a charge for the month by the twin (or any other invoice). Its
    key is not quoted, so that an operator's word on this text is shown the charge
    (money_taken, by its key) before a second word may charge the month twice."""
    text = month_hold_now(NOW_BILLED._replace(named_status="PAID", charged_by=8))
    assert text == (
        "a charge for customer 3's month of 2026-11, by invoice 8, succeeded or may have "
        "succeeded since this invoice was held for that month: never charged twice for one "
        "period; if this invoice is not owed, void it with 'antaeus void'; if it is owed as "
        "well, name it with 'retry-failed --invoice' to be shown that charge first"
    )
    assert twin_named(text) is None


@pytest.mark.parametrize(
    ("status", "became"),
    [("VOID", "VOID now"), ("UNCOLLECTIBLE", "UNCOLLECTIBLE now"), (None, "deleted")],
)
def test_a_hold_whose_twin_no_longer_bills_the_month_says_so(
    status: str | None, became: str
) -> None:
    gone = NOW_BILLED._replace(named_status=status, named_bills=False, twin=None)
    text = month_hold_now(gone)
    assert text == (
        f"invoice 8 billed customer 3 for the same month, and is {became}: no other invoice "
        "bills the month of 2026-11, and no charge for it is known; if this invoice is owed, "
        "release it with 'retry-failed --invoice'; if not, void it with 'antaeus void'"
    )
    assert twin_named(text) == 8  # judged again later: a new twin, or a charge, says so
    assert month_hold_now(gone) == text  # and, with nothing new, left as it says
    assert month_hold_now(gone._replace(twin=11)) == twin_bills(11, 3)
    assert month_hold_now(gone._replace(twin=11, charged_by=11)).startswith(
        "a charge for customer 3's month of 2026-11, by invoice 11,"
    )


@pytest.mark.parametrize("path", EVERY_PATH)
def test_a_month_charged_by_another_invoice_is_held_on_every_path(path: Path) -> None:
    taken = row(path, month_charged="ns-inv-5-1", duplicate_of=5)
    if path is Path.NAMED:
        taken = taken._replace(status=InvoiceStatus.UNCOLLECTIBLE, failure_code="dunning_exhausted")
    held = rejected(judge(path, taken, TODAY), FailureCode.DUPLICATE_PERIOD)
    # the money is asked before the rows: it is the stronger reason
    assert "succeeded or may have succeeded (key 'ns-inv-5-1')" in held.detail
    assert "month of 2026-11" in held.detail
    assert held_status(held) is InvoiceStatus.NEEDS_OPERATOR


@pytest.mark.parametrize("path", EVERY_PATH)
def test_another_invoice_for_the_month_holds_both_on_every_path(path: Path) -> None:
    twin = row(path, duplicate_of=5)
    if path is Path.NAMED:
        twin = twin._replace(status=InvoiceStatus.NEEDS_OPERATOR, failure_code="amount_anomaly")
    held = rejected(judge(path, twin, TODAY), FailureCode.DUPLICATE_PERIOD)
    assert "invoice 5 bills customer 3 for the same month" in held.detail


def test_an_operator_word_releases_a_duplicate_month_it_was_held_for() -> None:
    """Another invoice bills the month: released. (A charge for the month that the hold
    named is not counted for the invoice by the store, store.claims.MONTH_CHARGED: the
    word releases it too; see the next test for one it did not name.)"""
    held = named(InvoiceStatus.NEEDS_OPERATOR, FailureCode.DUPLICATE_PERIOD, duplicate_of=5)
    assert judge(Path.NAMED, held, TODAY) == GO


@pytest.mark.parametrize(
    "fields", [{"month_charged": "k"}, {"duplicate_of": 5, "month_charged": "k"}]
)
def test_an_operator_word_does_not_release_a_charge_for_the_month_its_hold_did_not_name(
    fields: dict[str, Any],
) -> None:
    """`month_charged` of an invoice held for an operator is a charge for the month that
    its hold did not name (made since): the word was not given on it, and holds again."""
    held = named(InvoiceStatus.NEEDS_OPERATOR, FailureCode.DUPLICATE_PERIOD, **fields)
    again = rejected(judge(Path.NAMED, held, TODAY), FailureCode.DUPLICATE_PERIOD)
    assert "(key 'k')" in again.detail


@pytest.mark.parametrize(
    ("status", "code"), [(s, c) for s, c in HELD_NAMED if c is not FailureCode.DUPLICATE_PERIOD]
)
def test_naming_an_invoice_held_for_anything_else_does_not_release_its_month(
    status: InvoiceStatus, code: FailureCode
) -> None:
    for fields in ({"duplicate_of": 5}, {"month_charged": "k"}):
        verdict = judge(Path.NAMED, named(status, code, **fields), TODAY)
        rejected(verdict, FailureCode.DUPLICATE_PERIOD)


# -- usual amount ----------------------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_PATH)
def test_an_unusual_amount_is_held_on_every_path(path: Path) -> None:
    unusual = row(path, amount=1_000_000, usual_amount=1000)
    held = rejected(judge(path, unusual, TODAY), FailureCode.AMOUNT_ANOMALY)
    assert "EUR 10,000.00 is 1000 times what customer 3 usually pays" in held.detail
    assert "median of their paid invoices is EUR 10.00" in held.detail
    assert held_status(held) is InvoiceStatus.NEEDS_OPERATOR


@pytest.mark.parametrize("usual", [None, "1000", 10.0])
def test_an_amount_without_a_usual_one_to_judge_by_is_not_unusual(usual: object) -> None:
    assert judge(Path.BILL, row(usual_amount=usual), TODAY) == GO


@pytest.mark.parametrize(
    ("amount", "said"),
    [
        (1500, "EUR 15.00 is more than what customer 3 usually pays"),  # never "1 times"
        (1999, "EUR 19.99 is more than what customer 3 usually pays"),
        (2000, "EUR 20.00 is 2 times what customer 3 usually pays"),
    ],
)
def test_an_amount_less_than_twice_the_usual_one_is_said_to_be_more_than_it(
    amount: int, said: str
) -> None:
    """With --anomaly-factor 1, an amount above the usual one but not twice it is held."""
    unusual = row(amount=amount, usual_amount=1000)
    held = rejected(judge(Path.BILL, unusual, TODAY), FailureCode.AMOUNT_ANOMALY)
    assert said in held.detail


def test_an_amount_beside_a_usual_of_nothing_is_far_above_it() -> None:
    held = rejected(judge(Path.BILL, row(usual_amount=0), TODAY), FailureCode.AMOUNT_ANOMALY)
    assert "is far above what customer 3 usually pays" in held.detail


def test_an_operator_word_releases_an_unusual_amount_it_was_held_for() -> None:
    held = named(
        InvoiceStatus.NEEDS_OPERATOR,
        FailureCode.AMOUNT_ANOMALY,
        usual_amount=10,
        failure_detail="EUR 10.00 is 100 times what customer 3 usually pays ...",
    )
    assert judge(Path.NAMED, held, TODAY) == GO


@pytest.mark.parametrize(
    "shown",
    [
        "EUR 1.00 is 10 times what customer 3 usually pays ...",  # edited since the hold
        "invoice 5 bills customer 3 for the same month ...",
        None,
    ],
)
def test_an_operator_word_does_not_release_an_amount_its_hold_did_not_show(
    shown: str | None,
) -> None:
    held = named(
        InvoiceStatus.NEEDS_OPERATOR,
        FailureCode.AMOUNT_ANOMALY,
        usual_amount=10,
        failure_detail=shown,
    )
    again = rejected(judge(Path.NAMED, held, TODAY), FailureCode.AMOUNT_ANOMALY)
    assert again.detail.startswith("EUR 10.00 is 100 times")


@pytest.mark.parametrize(
    ("status", "code"), [(s, c) for s, c in HELD_NAMED if c is not FailureCode.AMOUNT_ANOMALY]
)
def test_naming_an_invoice_held_for_anything_else_does_not_release_its_amount(
    status: InvoiceStatus, code: FailureCode
) -> None:
    verdict = judge(Path.NAMED, named(status, code, usual_amount=10), TODAY)
    rejected(verdict, FailureCode.AMOUNT_ANOMALY)


# -- exactly the hold it names -----------------------------------------------------------


def test_a_release_is_of_one_hold_and_the_next_rule_still_holds() -> None:
    both = {"duplicate_of": 5, "usual_amount": 10}
    by_month = named(InvoiceStatus.NEEDS_OPERATOR, FailureCode.DUPLICATE_PERIOD, **both)
    by_amount = named(InvoiceStatus.NEEDS_OPERATOR, FailureCode.AMOUNT_ANOMALY, **both)
    rejected(judge(Path.NAMED, by_month, TODAY), FailureCode.AMOUNT_ANOMALY)
    rejected(judge(Path.NAMED, by_amount, TODAY), FailureCode.DUPLICATE_PERIOD)
    # a card released leaves the guard rails; a guard rail released past a card that
    # said never releases the card too (the earlier word that got it there stands), so
    # no invoice swaps between two holds for ever
    card = named(InvoiceStatus.NEEDS_OPERATOR, FailureCode.DUPLICATE_PERIOD, card_refused=True)
    assert isinstance(judge(Path.NAMED, card, TODAY), Invoice)
    awaiting = named(InvoiceStatus.AWAITING_CUSTOMER, FailureCode.HARD_DECLINE, **both)
    rejected(judge(Path.NAMED, awaiting, TODAY), FailureCode.DUPLICATE_PERIOD)


@pytest.mark.parametrize("path", [Path.BILL, Path.BILL_HANDED_BACK, Path.RETRY])
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (InvoiceStatus.AWAITING_CUSTOMER, FailureCode.HARD_DECLINE),
        (InvoiceStatus.NEEDS_OPERATOR, FailureCode.DUPLICATE_PERIOD),
        (InvoiceStatus.NEEDS_OPERATOR, FailureCode.AMOUNT_ANOMALY),
    ],
)
def test_only_an_operator_word_releases_anything(
    path: Path, status: InvoiceStatus, code: FailureCode
) -> None:
    """A row that reads as held (written by hand, say) releases nothing on a
    scheduled path: the release is the operator's, by name."""
    assert released(path, named(status, code)) == frozenset()
    guarded = row(path, status=status, failure_code=code.value)
    checks: dict[FailureCode, tuple[dict[str, Any], FailureCode]] = {
        FailureCode.HARD_DECLINE: ({"card_refused": True}, FailureCode.HARD_DECLINE),
        FailureCode.DUPLICATE_PERIOD: ({"duplicate_of": 5}, FailureCode.DUPLICATE_PERIOD),
        FailureCode.AMOUNT_ANOMALY: ({"usual_amount": 10}, FailureCode.AMOUNT_ANOMALY),
    }
    fields, holds = checks[code]
    rejected(judge(path, guarded._replace(**fields), TODAY), holds)


@pytest.mark.parametrize(("status", "code"), [*HELD_NAMED, (InvoiceStatus.NEEDS_OPERATOR, None)])
def test_what_naming_an_invoice_releases(status: InvoiceStatus, code: FailureCode | None) -> None:
    expected: frozenset[FailureCode] = frozenset()
    if status is InvoiceStatus.AWAITING_CUSTOMER:
        expected = frozenset({FailureCode.HARD_DECLINE, FailureCode.NEEDS_CUSTOMER})
    elif code in (FailureCode.DUPLICATE_PERIOD, FailureCode.AMOUNT_ANOMALY):
        expected = frozenset({code})
    assert released(Path.NAMED, named(status, code)) == expected


# -- the order of the table ----------------------------------------------------------------

# Each rule, as the fields that break it, in the table's order; the first broken one
# answers. (In flight, zone and the dates are pinned above.)
ORDER: list[tuple[dict[str, Any], FailureCode]] = [
    ({"charged_before": True}, FailureCode.ALREADY_CHARGED),
    ({"amount": 0}, FailureCode.MALFORMED),
    ({"card_refused": True}, FailureCode.HARD_DECLINE),
    ({"month_charged": "k"}, FailureCode.DUPLICATE_PERIOD),
    ({"usual_amount": 1}, FailureCode.AMOUNT_ANOMALY),
]


@pytest.mark.parametrize("path", [Path.BILL, Path.BILL_HANDED_BACK, Path.RETRY])
@pytest.mark.parametrize(("first", "later"), list(itertools.combinations(range(len(ORDER)), 2)))
def test_the_rules_are_asked_in_the_order_of_the_table(path: Path, first: int, later: int) -> None:
    fields = {**ORDER[later][0], **ORDER[first][0]}
    rejected(judge(path, row(path, **fields), TODAY), ORDER[first][1])


# -- held_status and replay_verdict ----------------------------------------------------


@pytest.mark.parametrize("code", list(FailureCode))
def test_a_hold_waits_for_the_customer_only_when_the_card_said_never(code: FailureCode) -> None:
    customer = code in (FailureCode.HARD_DECLINE, FailureCode.NEEDS_CUSTOMER)
    assert held_status(Rejection(code, "why")) is (
        InvoiceStatus.AWAITING_CUSTOMER if customer else InvoiceStatus.NEEDS_OPERATOR
    )


def test_a_replay_unknown_to_the_provider_is_sent_again_when_no_money_fact_forbids_it() -> None:
    assert replay_verdict(invoice_gone=False, charged_by=None, month_charged=None) is None


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        ({"invoice_gone": True}, "its invoice was deleted"),
        ({"charged_by": 12}, "another attempt charged its invoice already"),
        (
            {"month_charged": "ns-inv-5-1"},
            "a charge for its customer's month under key 'ns-inv-5-1' succeeded or may have "
            "succeeded",
        ),
        # all at once: the first of them says why
        ({"invoice_gone": True, "charged_by": 12, "month_charged": "k"}, "its invoice was deleted"),
        ({"charged_by": 12, "month_charged": "k"}, "another attempt charged its invoice already"),
    ],
)
def test_a_replay_unknown_to_the_provider_is_not_sent_again_after_a_money_fact(
    facts: dict[str, Any], why: str
) -> None:
    given = {"invoice_gone": False, "charged_by": None, "month_charged": None, **facts}
    assert replay_verdict(**given) == why


def test_a_key_shown_in_a_replay_verdict_is_cut_short() -> None:
    why = replay_verdict(invoice_gone=False, charged_by=None, month_charged="k" * 500)
    assert why is not None
    assert "k" * 80 in why
    assert "k" * 81 not in why


# A replay's key as it was sent: 1000 EUR cents, claimed from PENDING.
SENT = (1000, "EUR", InvoiceStatus.PENDING)


def now_is(**changes: object) -> InvoiceNow:
    """The replay's invoice as it is now: unchanged since the claim, but for `changes`."""
    fields: dict[str, object] = {
        "status": "PENDING",
        "amount": 1000,
        "currency": "EUR",
        "due_date": "2026-12-01",
    }
    return InvoiceNow(**{**fields, **changes})


def resend(now: InvoiceNow | None, sent: Any = SENT, local_date: date | None = TODAY) -> Any:
    return replay_verdict(
        invoice_gone=False,
        charged_by=None,
        month_charged=None,
        now=now,
        sent=sent,
        local_date=local_date,
    )


def test_a_replay_whose_invoice_is_as_it_was_judged_is_sent_again() -> None:
    assert resend(now_is()) is None
    assert resend(now_is(status="PROCESSING")) is None  # an unknown answer moved it there
    # without the invoice as it is now, or without the request as sent, only the money
    # facts decide
    assert resend(None) is None
    assert resend(now_is(status="PAID"), sent=None) is None
    assert resend(None, sent=None, local_date=None) is None


def test_a_replay_whose_invoice_changed_or_is_not_due_is_not_sent_again_and_says_why() -> None:
    assert resend(now_is(status="PAID")) == "its invoice was set to PAID meanwhile"
    assert resend(now_is(status="S" * 25)) == f"its invoice was set to {'S' * 20} meanwhile"
    edited = "its invoice's amount or currency was edited meanwhile"
    assert resend(now_is(amount=1001)) == edited
    assert resend(now_is(currency="USD")) == edited
    assert resend(now_is(), local_date=None) == (
        "its customer's time zone is not one the zone database knows"
    )
    assert resend(now_is(due_date="2026-12-02")) == (
        "its invoice's due date has not begun where the customer is"
    )


# -- the words an operator reads ---------------------------------------------------------

HARD, DUPLICATE = FailureCode.HARD_DECLINE, FailureCode.DUPLICATE_PERIOD


def test_a_card_that_said_never_is_held_with_the_next_step() -> None:
    held = rejected(judge(Path.BILL, row(card_refused=True, last_attempt_no=2), TODAY), HARD)
    assert held.detail == (
        "attempt 2 was answered with a hard decline or a card that needs its holder, so this "
        "card is never charged again on its own: once the customer has acted, release it "
        "with 'retry-failed --invoice'"
    )


def test_a_month_the_ledger_says_was_charged_is_held_with_its_key() -> None:
    key = "ns-inv-5-1" + "x" * 100
    held = rejected(judge(Path.BILL, row(month_charged=key), TODAY), DUPLICATE)
    assert held.detail == (
        "a charge for customer 3's month of 2026-11 succeeded or may have "
        f"succeeded (key {key[:80]!r}): never charged twice for one period; if this invoice "
        "is owed as well, release it with 'retry-failed --invoice'"
    )


@pytest.mark.parametrize("path", EVERY_PATH)
def test_a_month_this_claim_took_holds_every_other_invoice_whatever_was_said(
    path: Path,
) -> None:
    """Two invoices of one month in one claim (named together, say): the first takes the
    month, the second is held, even by an operator's word for the month."""
    fields: dict[str, Any] = {}
    if path is Path.NAMED:
        fields = {"status": InvoiceStatus.NEEDS_OPERATOR, "failure_code": "duplicate_period"}
    second = row(path, id=8, **fields)
    month = second.due_date[:7]
    held = rejected(judge(path, second, TODAY, {(3, month): 7}), DUPLICATE)
    assert held.detail == (
        f"invoice 7 is being charged for customer 3's month of {month} by the same pass: "
        "never charged twice for one period; if this invoice is owed as well, name it alone "
        "with 'retry-failed --invoice'"
    )
    # the invoice that took the month is itself charged; another customer's month is free
    assert isinstance(judge(path, row(path, **fields), TODAY, {(3, month): 7}), Invoice)
    assert isinstance(judge(path, second, TODAY, {(4, month): 7}), Invoice)
    assert isinstance(judge(path, second, TODAY, {(3, "2026-10"): 7}), Invoice)


def test_the_month_of_a_due_date_not_stored_as_text_is_shown_not_guessed() -> None:
    assert month_of(row(due_date="2026-12-01")) == "2026-12"
    assert month_of(row(due_date=20261201)) == "20261201"
    assert month_of(row(due_date=b"x" * 40)) == repr(b"x" * 40)[:20]


@pytest.mark.parametrize("code", [FailureCode.DUPLICATE_PERIOD, FailureCode.AMOUNT_ANOMALY])
@pytest.mark.parametrize(
    "detail",
    [
        "invoice 8 bills customer 4 for the same month",  # another customer
        "invoice 8 bills customer 31 for the same month",  # a customer whose id starts so
        "EUR 10.00 is 12 times what customer 33 usually pays",
        None,  # a hold that showed nothing
    ],
)
def test_a_word_on_a_guard_hold_shown_for_another_customer_releases_nothing(
    code: FailureCode, detail: str | None
) -> None:
    """The invoice was moved to customer 3 by hand after its hold named another: the
    word releases nothing the operator was not shown, and the guards judge it anew."""
    held = named(InvoiceStatus.NEEDS_OPERATOR, code, failure_detail=detail, duplicate_of=8)
    rejected(judge(Path.NAMED, held, TODAY), FailureCode.DUPLICATE_PERIOD)
    assert released(Path.NAMED, held) == frozenset()
