"""`--dry-run` says what the real pass then does: the invoices it would charge are the
ones the pass charges, and the ones it would hold are held, with the same codes. Each
case runs the dry run, then the pass, on the same database."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.preview import preview_pass
from antaeus_cli.billing.preview_result import PreviewResult
from antaeus_cli.billing.results import Command, PassResult, RunStatus, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime, run_pass
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.judgement import Path as Judged
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.money import Currency
from antaeus_cli.errors import NotRetryable
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store.database import Store, read_only
from tests.conftest import ME
from tests.fakes import FakeProvider, FixedClock, dead, on
from tests.service import test_judgement_prefilter as prefilter

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DEC = date(2026, 12, 1)


def dry_run(
    db_path: Path, command: Command, invoice_ids: tuple[int, ...] = (), **options: Any
) -> PreviewResult:
    """The dry run of `command` on 1 December, with the pass's options."""
    return read_only(
        db_path,
        lambda store: preview_pass(store, command, on(DEC), invoice_ids=invoice_ids, **options),
    )


def said(preview: PreviewResult) -> tuple[list[int], list[tuple[int, str]]]:
    held = [*preview.operator_items, *preview.awaiting_items]
    return (
        sorted(item.invoice_id for item in preview.listed),
        sorted((item.invoice_id, item.code) for item in held),
    )


def did(provider: FakeProvider, result: PassResult, sql: Sql) -> tuple[list[int], list[Any]]:
    charged = sorted(invoice for invoice, key in provider.calls if key in provider.charged_keys)
    held = sql(
        "SELECT id, failure_code FROM invoice WHERE status IN "
        "('NEEDS_OPERATOR', 'AWAITING_CUSTOMER') AND updated_at >= "
        "(SELECT started_at FROM billing_run WHERE id = ?) ORDER BY id",
        result.run_id,
    )
    return charged, held


def test_two_named_invoices_for_one_month_one_charged_one_held_as_the_pass_does(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    """Twins held for one month, both named in one word: the pass charges the first
    and holds the second for the month it has just taken. The dry run says the same,
    not that both would be charged."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 1, 1000, "EUR", DEC),
        customers={1: "EUR"},
    )
    bill(FakeProvider())
    assert sql("SELECT DISTINCT status, failure_code FROM invoice") == [
        ("NEEDS_OPERATOR", "duplicate_period")
    ]
    preview = dry_run(db_path, Command.RETRY_FAILED, (1, 2))
    provider = FakeProvider()
    result = bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1, 2))
    assert did(provider, result, sql) == ([1], [(2, "duplicate_period")])
    assert said(preview) == ([1], [(2, "duplicate_period")])


@pytest.mark.parametrize(("batch_size", "held"), [(500, [3, 4]), (2, [])])
def test_a_dry_run_holds_what_the_claim_the_pass_stops_in_holds(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path, batch_size: int, held: list[int]
) -> None:
    """A cap stops the pass at invoice 2; invoices 3 and 4 bill one customer's month.
    In one claim with invoice 2, they are judged, and held, before anything is sent;
    in a later claim, the pass stops before it judges them. The dry run says the same,
    and leaves for a later pass only what the pass leaves."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 2, 1000, "EUR", DEC),
        SeedInvoice(3, 3, 1000, "EUR", DEC),
        SeedInvoice(4, 3, 1000, "EUR", DEC),
        customers={1: "EUR", 2: "EUR", 3: "EUR"},
    )
    limits = RunLimits(max_total={Currency("EUR"): 1500})
    preview = dry_run(db_path, Command.BILL, limits=limits, batch_size=batch_size)
    provider = FakeProvider()
    result = bill(provider, limits=limits, batch_size=batch_size)
    assert result.status is RunStatus.STOPPED_CAP
    assert did(provider, result, sql) == ([1], [(i, "duplicate_period") for i in held])
    assert said(preview) == ([1], [(i, "duplicate_period") for i in held])
    assert preview.beyond_cap == 4 - 1 - len(held)


# -- over generated databases ----------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prefilter.template.__wrapped__(tmp_path_factory)  # type: ignore[attr-defined]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@pytest.mark.parametrize("path", [Judged.BILL, Judged.RETRY, Judged.NAMED])
def test_a_dry_run_says_what_the_pass_then_does(
    path: Judged, data: st.DataObject, template: Path, tmp_path: Path
) -> None:
    """Whatever the database holds (every guard, hand-written ledgers, zones, caps, the
    breaker's sample, invoices named in any status): the invoices the dry run would
    charge are the ones the pass charges, and the ones it would hold, the ones the pass
    holds, with the same codes; or both refuse the names. The provider charges every
    key and cannot look one up: replays stay open."""
    generated = prefilter.states(Judged.RETRY if path is Judged.NAMED else path)
    state = data.draw(generated, label="state")
    names: tuple[int, ...] = ()
    if path is Judged.NAMED:
        every = list(range(1, len(state.invoices) + 1))
        chosen = st.lists(st.sampled_from(every), min_size=1, max_size=4, unique=True)
        names = tuple(data.draw(chosen, label="named"))
    cap = data.draw(st.sampled_from([None, 1000, 2500, 6000]), label="EUR cap")
    limits = RunLimits(
        max_total={} if cap is None else {Currency("EUR"): cap},
        breaker_window=data.draw(st.integers(1, 4), label="breaker window"),
    )
    db = tmp_path / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(template, db)
    prefilter.write(db, state)
    command = Command.BILL if path is Judged.BILL else Command.RETRY_FAILED
    clock = PassClock(state.as_of, state.company)
    store = Store.open(db)
    try:
        try:
            preview: PreviewResult | None = preview_pass(
                store,
                command,
                clock,
                invoice_ids=names,
                batch_size=state.limit,
                amount_guard=state.guard,
                limits=limits,
            )
        except NotRetryable:
            preview = None
        before = dict(store.conn.execute("SELECT id, updated_at FROM invoice"))
        provider = FakeProvider(can_lookup=False)
        settings_ = PassSettings(
            as_of=state.as_of,
            company_zone=state.company,
            batch_size=state.limit,
            amount_guard=state.guard,
            limits=limits,
            retry=RetryPolicy(sleep=lambda _: None),
        )
        try:
            result = run_pass(
                store,
                provider,
                PassRequest(command, settings_, names),
                Runtime(
                    clock=FixedClock(prefilter.NOW),
                    stop=StopRequest(),
                    observer=SilentObserver(),
                    me=ME,
                    is_alive=dead,
                ),
            )
        except NotRetryable:
            assert preview is None  # both refuse the names, and nothing was sent
            assert provider.calls == []
            return
        assert preview is not None, result
        after = store.conn.execute(
            "SELECT id, updated_at, failure_code FROM invoice WHERE status IN "
            "('NEEDS_OPERATOR', 'AWAITING_CUSTOMER')"
        ).fetchall()
    finally:
        store.close()
    charged = sorted({invoice for invoice, key in provider.calls if "by-hand" not in key})
    held = sorted((i, code) for i, stamp, code in after if before.get(i) != stamp)
    assert said(preview)[0] == charged, result
    assert said(preview)[1] == held, result
    assert (preview.stop_reason is None) == (result.status is not RunStatus.STOPPED_CAP)


_FAILED = (
    "UPDATE invoice SET status = 'FAILED', failure_code = 'declined', decline_count = 1, "
    "next_retry_on = '2026-12-01', first_declined_on = '2026-12-01' WHERE id = ?"
)
_GIVEN_UP = (
    "UPDATE invoice SET status = 'UNCOLLECTIBLE', failure_code = 'dunning_exhausted' WHERE id = ?"
)


@pytest.mark.parametrize("batch_size", [1, 500])
@pytest.mark.parametrize(
    ("first", "charged", "held"),
    [(_GIVEN_UP, [2], [1]), (_FAILED, [], [1, 2])],
    ids=["given-up", "failed"],
)
def test_a_given_up_invoice_held_by_name_does_not_become_a_twin_for_a_later_claim(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    edit: Callable[..., None],
    db_path: Path,
    batch_size: int,
    first: str,
    charged: list[int],
    held: list[int],
) -> None:
    """An operator names a given-up invoice and another of the same customer's month.
    The first is held (the second bills its month), and so is no longer given up; a
    later claim of the same word still judges the second as the database stood when the
    pass began, as a claim of both does: the second is charged, whatever the batch
    size. A first invoice that was not given up is the second's twin in every claim:
    both are held. The dry run says the same."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 1, 1000, "EUR", DEC),
        customers={1: "EUR"},
    )
    edit(first, 1)
    edit(_FAILED, 2)
    preview = dry_run(db_path, Command.RETRY_FAILED, (1, 2), batch_size=batch_size)
    provider = FakeProvider()
    result = bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1, 2), batch_size=batch_size)
    expected = (charged, [(i, "duplicate_period") for i in held])
    assert did(provider, result, sql) == expected
    assert said(preview) == expected


@pytest.mark.parametrize("batch_size", [1, 500])
@pytest.mark.parametrize("path", ["bill sample", "bill walk", "retry", "named"])
def test_what_a_customer_usually_pays_is_what_they_paid_before_the_pass(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    edit: Callable[..., None],
    db_path: Path,
    batch_size: int,
    path: str,
) -> None:
    """A catch-up: three months paid at 10.00, four small months due, then a month of
    50.00 (five times the usual 10.00: not unusual). Had the pass counted the four small
    months it pays first, 50.00 would be more than ten times the median of what was then
    paid, and held in a pass of one invoice a claim, charged in a pass of many. The
    customer's usual amount is what they paid before the pass: every month is charged,
    whatever the batch size and the path, as the dry run says."""
    months = [date(2026, m, 1) for m in range(1, 13)]
    paid = [SeedInvoice(i, 1, 1000, "EUR", months[i]) for i in (1, 2, 3)]
    small = [SeedInvoice(i, 1, 90, "EUR", months[i + 3]) for i in (4, 5, 6, 7)]
    make(*paid, *small, SeedInvoice(8, 1, 5000, "EUR", DEC), customers={1: "EUR"})
    edit(
        "UPDATE invoice SET status = 'PAID', paid_at = '2026-06-01T00:00:00+00:00' "
        "WHERE id IN (1, 2, 3)"
    )
    command, names, limits, charged = Command.BILL, (), RunLimits(), [4, 5, 6, 7, 8]
    if path == "bill walk":  # a sample of one, then the walk
        limits = RunLimits(breaker_window=1)
    if path == "bill sample":  # more due than the breaker's window: 4 to 8 its sample
        edit(
            "INSERT INTO invoice (id, customer_id, amount, currency, due_date) "
            "VALUES (9, 2, 100, 'EUR', '2026-12-01')"
        )
        edit("INSERT INTO customer (id, currency, email) VALUES (2, 'EUR', 'c2@example.com')")
        limits, charged = RunLimits(breaker_window=5), [*charged, 9]
    if path in ("retry", "named"):
        command = Command.RETRY_FAILED
        for invoice_id in range(4, 9):
            edit(_FAILED, invoice_id)
        names = tuple(range(4, 9)) if path == "named" else ()
    preview = dry_run(db_path, command, names, batch_size=batch_size, limits=limits)
    provider = FakeProvider()
    result = bill(
        provider, command=command, invoice_ids=names, batch_size=batch_size, limits=limits
    )
    assert did(provider, result, sql) == (charged, [])
    assert said(preview) == (charged, [])


@pytest.mark.parametrize("batch_size", [1, 500])
def test_every_given_up_invoice_an_earlier_claim_held_stays_given_up_for_later_ones(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    edit: Callable[..., None],
    db_path: Path,
    batch_size: int,
) -> None:
    """Two given-up invoices, of two customers, held by the first two claims of one
    word: the third claim still judges customer 1's month as it stood, without the
    first. Invoices 3 and 4 are charged, whatever the batch size."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 2, 1000, "EUR", DEC),
        SeedInvoice(3, 1, 1000, "EUR", DEC),
        SeedInvoice(4, 2, 1000, "EUR", DEC),
        customers={1: "EUR", 2: "EUR"},
    )
    for invoice_id in (1, 2):
        edit(_GIVEN_UP, invoice_id)
    for invoice_id in (3, 4):
        edit(_FAILED, invoice_id)
    names = (1, 2, 3, 4)
    preview = dry_run(db_path, Command.RETRY_FAILED, names, batch_size=batch_size)
    provider = FakeProvider()
    result = bill(provider, command=Command.RETRY_FAILED, invoice_ids=names, batch_size=batch_size)
    expected = ([3, 4], [(1, "duplicate_period"), (2, "duplicate_period")])
    assert did(provider, result, sql) == expected
    assert said(preview) == expected
