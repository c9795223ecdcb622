"""The claim's SQL is a prefilter of the judgement (domain.judgement), on every
scheduled path: over generated databases, what the one statement claims the judgement
would charge, and everything the judgement would charge is either claimed by it or
handed to the Python check. Then the whole walk (DueSource), statement and Python
check together, charges exactly what the judgement says, no more and no less."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antaeus_cli.billing.sources import ClaimContext, DueSource
from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.domain.guards import GUARDS_OFF, AmountGuard
from antaeus_cli.domain.invoice import Invoice, InvoiceRow, InvoiceStatus
from antaeus_cli.domain.judgement import Path as Judged
from antaeus_cli.domain.judgement import Verdict, judge
from antaeus_cli.domain.money import MAX_CHARGE_MINOR
from antaeus_cli.seeding.scenario import Scenario
from antaeus_cli.store import claims, runs
from antaeus_cli.store.database import Store
from antaeus_cli.store.work import Work
from tests.conftest import ME, make_db
from tests.fakes import dead

NOW = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
MOMENTS = [
    AsOf.on(date(2026, 12, 1)),
    AsOf.parse("2026-11-30T13:00:00Z"),  # Kiritimati on the 1st, the rest on the 30th
    AsOf.parse("2026-12-01T06:00:00Z"),  # Etc/GMT+12 still on the 30th
    AsOf.parse("2026-12-01T13:00:00Z"),
]
COMPANY_ZONES: list[tzinfo] = [UTC, ZoneInfo("America/Los_Angeles")]
STATUSES: dict[str, list[str | None]] = {
    "PENDING": [None],
    "FAILED": ["declined"],
    "PAID": [None],
    "NEEDS_OPERATOR": ["duplicate_period", "amount_anomaly", "malformed", "edited_in_flight"],
    "AWAITING_CUSTOMER": ["hard_decline", "needs_customer"],
    "UNCOLLECTIBLE": ["dunning_exhausted"],
    "VOID": [None],
}
OPEN = {"started", "unknown", "processing"}
GUARDS = [AmountGuard(), AmountGuard(2, 1), GUARDS_OFF]
# The walk each scheduled path takes, as billing.sources.DueSource takes it.
LATEST = {
    Judged.BILL: claims.FRESH,
    Judged.BILL_HANDED_BACK: claims.HANDED_BACK,
    Judged.RETRY: claims.CLEAN,
}
SELECTED = {
    Judged.BILL: InvoiceStatus.PENDING,
    Judged.BILL_HANDED_BACK: InvoiceStatus.PENDING,
    Judged.RETRY: InvoiceStatus.FAILED,
}


class Customer(NamedTuple):
    zone: str | None
    currency: str
    ref: str | None


class PriorAttempt(NamedTuple):
    outcome: str
    period: str | None  # None: the invoice's own month
    other_customer: bool  # claimed while the invoice was another customer's


class Row(NamedTuple):
    customer: int  # 1-based (see BROKEN_CUSTOMERS)
    status: str
    code: str | None
    due: str
    retry: str
    amount: int
    currency: str | None  # None: the customer's
    attempts: list[PriorAttempt]
    # an attempt of an invoice deleted since, for this one's customer and month: its
    # charge (charged, or still open) still counts for the month
    ghost: str | None = None


class State(NamedTuple):
    customers: list[Customer]  # the sound ones, then BROKEN_CUSTOMERS
    invoices: list[Row]
    paid: list[tuple[int, int]]  # (customer, amount): paid history, in earlier months
    guard: AmountGuard
    as_of: AsOf
    company: tzinfo
    limit: int


# After the sound customers: one whose zone the zone database does not know, one with
# a malformed provider id; and one past them all, who does not exist.
BROKEN_CUSTOMERS = [Customer("Mars/Olympus", "EUR", None), Customer(None, "EUR", "cus 1")]
ON_TIME = ["2026-11-30", "2026-07-15", "2026-08-31", "2026-09-30", "2026-10-15"]
# Not yet due in some zones at some moments, or anywhere.
# Not yet due in some zones at some moments (the 1st, most often), or anywhere.
EARLY = ["2026-12-01", "2026-12-01", "2026-12-01", "2026-12-02", "2027-01-01"]
OUTCOMES = [
    "declined",
    "abandoned",
    "charged",
    "declined_hard",
    "needs_customer",
    "started",
    "unknown",
    "processing",
]
# Each invoice breaks at most one rule (most none), so that every rule, the guard
# rails last in the table included, is the one that decides now and then; "chaos"
# draws every field at random, for the rules together.
FLAWS = {
    "none": 10,
    "chaos": 4,
    "early": 3,
    "retry_early": 3,
    "in_flight": 2,
    "charged": 1,
    "card": 2,
    "declined": 5,
    "amount": 1,
    "currency": 1,
    "unknown_zone": 1,
    "bad_ref": 1,
    "no_customer": 1,
    "twin": 1,
    "month": 1,
    "unusual": 1,
}


def weighted(*choices: tuple[Any, int]) -> st.SearchStrategy[Any]:
    """One of the values, each as often as its weight. The first value is the one
    hypothesis shrinks towards."""
    return st.sampled_from([value for value, weight in choices for _ in range(weight)])


sound_customers = st.builds(
    Customer,
    st.sampled_from([None, "Pacific/Kiritimati", "Etc/GMT+12"]),
    weighted(("EUR", 4), ("USD", 1)),
    st.sampled_from([None, "cus_1"]),
)
attempts = st.builds(
    PriorAttempt,
    st.sampled_from(OUTCOMES),
    weighted((None, 4), ("2026-12", 2), ("2026-11", 2), ("2026-09", 1)),
    weighted((False, 4), (True, 1)),
)


def one_open(drawn: list[PriorAttempt]) -> list[PriorAttempt]:
    """The attempts as a claim leaves them: only the latest may be open (schema version
    16 allows one open attempt an invoice; an older one open beside a newer one exists
    only by hand, and the claim's constraint holds it: test_row_errors)."""
    last = len(drawn) - 1
    return [
        a._replace(outcome="abandoned") if a.outcome in OPEN and n < last else a
        for n, a in enumerate(drawn)
    ]


@st.composite
def rows(draw: st.DrawFn, n: int, previous: Row | None, month: int, selected: str) -> Row:
    """An invoice of one of the `n` sound customers that breaks at most one rule; its
    due date in the `month`-th month it may be due in (so that most invoices have no
    twin in their month, and a twin is one of the rules broken); most in the status the
    path selects, `selected`."""
    status = draw(weighted((selected, 8), *((s, 1) for s in STATUSES)))
    row = Row(
        customer=draw(st.integers(1, n)),
        status=status,
        code=draw(st.sampled_from(STATUSES[status])),
        due=ON_TIME[month % len(ON_TIME)],
        retry="2026-11-30",
        amount=draw(st.sampled_from([1000, 5000])),
        currency=None,
        attempts=draw(st.sampled_from([[], [PriorAttempt("abandoned", None, False)]])),
    )
    flaw = draw(weighted(*FLAWS.items()))
    changes: dict[str, Callable[[], dict[str, Any]]] = {
        "early": lambda: {"due": draw(st.sampled_from(EARLY))},
        "retry_early": lambda: {"retry": draw(st.sampled_from(EARLY[:4]))},
        "in_flight": lambda: {
            "attempts": [PriorAttempt(draw(st.sampled_from(sorted(OPEN))), None, False)]
        },
        "charged": lambda: {"attempts": [PriorAttempt("charged", None, False)]},
        "card": lambda: {
            "attempts": [PriorAttempt(draw(st.sampled_from(OUTCOMES[3:5])), None, False)]
        },
        "declined": lambda: {"attempts": [*row.attempts, PriorAttempt("declined", None, False)]},
        "amount": lambda: {"amount": draw(st.sampled_from([0, -5, MAX_CHARGE_MINOR + 1]))},
        "currency": lambda: {"currency": draw(st.sampled_from(["XYZ", "GBP"]))},
        "unknown_zone": lambda: {"customer": n + 1},
        "bad_ref": lambda: {"customer": n + 2},
        "no_customer": lambda: {"customer": n + 3},
        "twin": lambda: (
            {} if previous is None else {"customer": previous.customer, "due": previous.due}
        ),
        "month": lambda: {"ghost": draw(st.sampled_from(["charged", "unknown", "declined"]))},
        "unusual": lambda: {"amount": 100_000},
        "chaos": lambda: {
            "customer": draw(st.integers(1, n + 3)),
            "due": draw(st.sampled_from([*ON_TIME, *EARLY])),
            "retry": draw(st.sampled_from(["2026-11-30", *EARLY[2:4]])),
            "amount": draw(st.sampled_from([1000, 100_000, 0])),
            "currency": draw(st.sampled_from([None, "EUR", "USD", "JPY", "DEM", "XYZ"])),
            "attempts": one_open(draw(st.lists(attempts, max_size=3))),
            "ghost": draw(st.sampled_from([None, "charged", "started"])),
        },
    }
    return row._replace(**changes.get(flaw, dict)())


@st.composite
def states(draw: st.DrawFn, path: Judged) -> State:
    sound = draw(st.lists(sound_customers, min_size=1, max_size=3))
    n = len(sound)
    invoices: list[Row] = []
    first_month = draw(st.integers(0, len(ON_TIME) - 1))
    for month in range(first_month, first_month + draw(st.integers(3, 12))):
        previous = invoices[-1] if invoices else None
        invoices.append(draw(rows(n, previous, month, SELECTED[path].value)))
    paid = [
        (customer, amount)
        for customer in range(1, n + 1)
        for amount in draw(st.lists(st.sampled_from([100, 1000]), max_size=4))
    ]
    return State(
        customers=[*sound, *BROKEN_CUSTOMERS],
        invoices=invoices,
        paid=paid,
        guard=draw(st.sampled_from(GUARDS)),
        as_of=draw(st.sampled_from([*MOMENTS, *MOMENTS[1:]])),  # instants twice as often
        company=draw(st.sampled_from(COMPANY_ZONES)),
        limit=draw(st.integers(1, 4)),
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database, made once: each example writes its state into a copy."""
    path = make_db(tmp_path_factory.mktemp("template") / "antaeus.db", Scenario.of([], []))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(  # the run the hand-written attempts name
            "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at, "
            "finished_at, status) VALUES (1, 'bill', '2026-11-01', 'x', 'x', 1, ?, ?, "
            "'completed')",
            ("2026-11-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"),
        )
    conn.close()
    return path


def write(path: Path, state: State) -> None:
    """The state, as an operator's sqlite3 would write it (foreign keys off)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")  # a copy thrown away after the example
    stamp = "2026-11-01T00:00:00+00:00"
    with conn:
        for cid, c in enumerate(state.customers, start=1):
            conn.execute(
                "INSERT INTO customer (id, currency, provider_ref, timezone) VALUES (?, ?, ?, ?)",
                (cid, c.currency, c.ref, c.zone),
            )
        for iid, r in enumerate(state.invoices, start=1):
            failed = r.status == "FAILED"
            conn.execute(
                "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
                "decline_count, first_declined_on, next_retry_on, failure_code, created_at, "
                "updated_at, paid_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    iid,
                    r.customer,
                    r.amount,
                    r.currency or currency_of(state, r.customer),
                    r.status,
                    r.due,
                    int(failed),
                    "2026-11-01" if failed else None,
                    r.retry if failed else None,
                    r.code,
                    stamp,
                    stamp,
                    stamp if r.status == "PAID" else None,
                ),
            )
            if r.ghost is not None:
                conn.execute(
                    "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, "
                    "idempotency_key, run_id, command, amount, currency, from_status, outcome, "
                    "started_at, finished_at, period) "
                    "VALUES (?, ?, 1, ?, 1, 'bill', 100, 'EUR', 'PENDING', ?, ?, ?, ?)",
                    (
                        1000 + iid,  # deleted: no invoice has this id
                        r.customer,
                        f"ghost-{iid}",
                        r.ghost,
                        stamp,
                        None if r.ghost in OPEN else stamp,
                        r.due[:7],
                    ),
                )
            for no, a in enumerate(r.attempts, start=1):
                conn.execute(
                    "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, "
                    "idempotency_key, run_id, command, amount, currency, from_status, outcome, "
                    "started_at, finished_at, period) "
                    "VALUES (?, ?, ?, ?, 1, 'bill', 100, 'EUR', 'PENDING', ?, ?, ?, ?)",
                    (
                        iid,
                        r.customer + 1 if a.other_customer else r.customer,
                        no,
                        f"by-hand-{iid}-{no}",
                        a.outcome,
                        stamp,
                        None if a.outcome in OPEN else stamp,
                        a.period or r.due[:7],
                    ),
                )
        for pid, (cid, amount) in enumerate(state.paid, start=len(state.invoices) + 1):
            conn.execute(
                "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
                "created_at, updated_at, paid_at) VALUES (?, ?, ?, ?, 'PAID', ?, ?, ?, ?)",
                (
                    pid,
                    cid,
                    amount,
                    currency_of(state, cid),
                    f"2026-0{3 + pid % 4}-01",  # March to June: no month an invoice bills
                    stamp,
                    stamp,
                    stamp,
                ),
            )
    conn.close()


def currency_of(state: State, customer: int) -> str:
    known = customer <= len(state.customers)
    return state.customers[customer - 1].currency if known else "EUR"


class Pass(NamedTuple):
    store: Store
    clock: PassClock
    run_id: int
    days: claims.Days


@contextlib.contextmanager
def begin(template: Path, state: State, path: Judged) -> Iterator[Pass]:
    """A pass started on a copy of the template holding `state`."""
    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "antaeus.db"
        shutil.copyfile(template, db)
        write(db, state)
        store = Store.open(db)
        store.conn.execute("PRAGMA synchronous = OFF")
        try:
            yield started(store, state, path)
        finally:
            store.close()


def started(store: Store, state: State, path: Judged) -> Pass:
    clock = PassClock(state.as_of, state.company)
    command = "retry-failed" if path is Judged.RETRY else "bill"
    run = runs.start_run(
        store, command=command, clock=clock, provider="x", me=ME, now=NOW, is_alive=dead
    )
    # the zones as a pass reads them when it starts (billing.service.zone_days)
    days = claims.days_sql(clock.days(claims.zones(store.conn)))
    return Pass(store, clock, run.run_id, days)


def verdicts(run: Pass, path: Judged, guard: AmountGuard) -> dict[int, tuple[InvoiceRow, Verdict]]:
    """Every invoice the path selects by its status, read as it stands, and the
    judgement of it."""
    conn = run.store.conn
    ids = [row[0] for row in conn.execute("SELECT id FROM invoice")]
    read = claims.invoices_by_id(conn, ids, claims.Guards(guard))
    return {
        invoice_id: (row, judge(path, row, run.clock.local_date(row.timezone)))
        for invoice_id, row in read.items()
        if row.status is SELECTED[path]
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@pytest.mark.parametrize("path", list(LATEST))
def test_the_claim_sql_is_a_prefilter_of_the_judgement(
    path: Judged,
    data: st.DataObject,
    template: Path,
) -> None:
    state = data.draw(states(path), label="state")
    with begin(template, state, path) as run:
        check(run, path, state)


def check(run: Pass, path: Judged, state: State) -> None:
    due = claims.Due.RETRY if path is Judged.RETRY else claims.Due.BILL
    conn = run.store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        judged = verdicts(run, path, state.guard)
        go = {i for i, (_, verdict) in judged.items() if isinstance(verdict, Invoice)}
        by_statement: dict[int, Any] = {}
        to_python: set[int] = set()
        after: float = claims.BEFORE_FIRST
        while True:
            found = claims.claim_due(
                conn,
                due,
                run.days,
                after,
                state.limit,
                namespace="ns",
                run_id=run.run_id,
                command="bill",
                now=NOW,
                amount=state.guard,
                latest=LATEST[path],
            )
            if found is None:
                break
            by_statement.update((a.invoice.id, a) for a in found.attempts)
            to_python.update(row.id for row in found.others)
            after = found.upto
    finally:
        conn.execute("ROLLBACK")
    # (a) the statement claims only what the judgement charges, and as it would
    for invoice_id, attempt in by_statement.items():
        assert invoice_id in go, (invoice_id, judged.get(invoice_id))
        row, verdict = judged[invoice_id]
        assert (attempt.invoice, attempt.attempt_no) == (verdict, row.next_attempt_no)
    # (b) and leaves nothing the judgement charges out of the selection
    assert go <= by_statement.keys() | to_python, (go, by_statement.keys(), to_python)
    assert not by_statement.keys() & to_python
    # In fact it claims all of them (with the zones as the pass began): the Python check
    # finds nothing left to charge, as billing.sources.DueSource.next_batch counts on.
    assert not go & to_python, (go, to_python)

    # The whole walk, statement and Python check together, charges exactly that. In
    # one batch: a hold the walk records changes what a later batch reads (a twin held
    # as malformed no longer bills its month), so batch by batch it may charge more.
    context = ClaimContext(run.run_id, "bill", "ns", run.clock)
    source = DueSource(path, run.days, context, state.guard)
    conn.execute("BEGIN IMMEDIATE")
    try:
        charged: list[int] = []
        while (batch := source.next_batch(Work(conn), NOW, len(state.invoices))) is not None:
            charged += [a.invoice.id for a in batch.attempts]
    finally:
        conn.execute("ROLLBACK")
    assert sorted(charged) == sorted(go)
