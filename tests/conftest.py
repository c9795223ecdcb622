"""Shared fixtures: real SQLite files in tmp_path, fake providers, a fixed clock."""

from __future__ import annotations

import ctypes
import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from hypothesis import Phase, settings

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.preview import preview_pass
from antaeus_cli.billing.preview_result import PreviewResult
from antaeus_cli.billing.results import Command, PassResult, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime, run_pass
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.provider.sim_ledger import Account
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice
from antaeus_cli.seeding.service import seed
from antaeus_cli.store.database import Store
from tests import pg_cluster as pg
from tests.fakes import FixedClock, dead

# `make mutants` runs each mutant's tests once, to a first failure: a property that
# fails is reported as found, without the search for its smallest example (which, over
# a database per example, could outlast mutmut's time limit and read as a hang).
settings.register_profile("mutants", phases=[p for p in Phase if p is not Phase.shrink])
if os.environ.get("HYPOTHESIS_PROFILE") == "mutants":
    settings.load_profile("mutants")

T = TypeVar("T")
AS_OF = date(2026, 12, 1)
ME = ProcessIdentity("test-host", 4242, "tag")


@dataclass
class Sleeps:
    """Records the waits tenacity asked for; never sleeps. Retries are bounded: a test
    whose waits pass MAX_WAITS (no test comes near) fails, rather than retry for ever."""

    waits: list[float] = field(default_factory=list)

    MAX_WAITS = 10_000

    def __call__(self, seconds: float) -> None:
        if len(self.waits) >= self.MAX_WAITS:
            raise AssertionError(f"more than {self.MAX_WAITS} waits: a retry loop without end")
        self.waits.append(seconds)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "antaeus.db"


def scenario(
    *invoices: tuple[int, int, str] | SeedInvoice,
    customers: dict[int, str] | None = None,
    due: date = date(2026, 12, 1),
) -> Scenario:
    """Invoices as (id, amount, currency) on customer = id unless given in full."""
    built = [
        inv if isinstance(inv, SeedInvoice) else SeedInvoice(inv[0], inv[0], inv[1], inv[2], due)
        for inv in invoices
    ]
    if customers is None:
        customers = {inv.customer_id: inv.currency for inv in built}
    return Scenario.of(
        [
            SeedCustomer(cid, cur, Account(cid, cur, 10**9), None, f"c{cid}@example.com")
            for cid, cur in customers.items()
        ],
        built,
    )


def make_db(path: Path, data: Scenario, clock: FixedClock | None = None) -> Path:
    seed(
        path,
        data,
        force=False,
        ledger_path=None,
        clock=clock or FixedClock(),
        is_alive=dead,
    )
    return path


@pytest.fixture
def make(db_path: Path, clock: FixedClock) -> Callable[..., Path]:
    def build(*invoices: Any, **kwargs: Any) -> Path:
        return make_db(db_path, scenario(*invoices, **kwargs), clock)

    return build


@pytest.fixture
def pass_bound() -> float:
    """How long a pass `bill` runs may take; tests against real servers give more."""
    return PASS_BOUND_S


@pytest.fixture
def bill(
    db_path: Path, clock: FixedClock, sleeps: Sleeps, pass_bound: float
) -> Callable[..., PassResult]:
    """Run one pass against db_path, the way the CLI would, minus the CLI."""

    def run(
        provider: PaymentProvider,
        *,
        command: Command = Command.BILL,
        as_of: date = AS_OF,
        invoice_ids: tuple[int, ...] = (),
        stop: StopRequest | None = None,
        is_alive: Callable[[ProcessIdentity], bool | None] = dead,
        **settings: Any,
    ) -> PassResult:
        base = PassSettings(as_of=as_of, retry=RetryPolicy(sleep=sleeps))
        request = PassRequest(command, replace(base, **settings), invoice_ids)
        runtime = Runtime(
            clock=clock,
            stop=stop or StopRequest(),
            observer=SilentObserver(),
            me=ME,
            is_alive=is_alive,
        )

        def one_pass() -> PassResult:
            store = Store.open(db_path)
            try:
                return run_pass(store, provider, request, runtime)
            finally:
                store.close()

        return within(pass_bound, one_pass)

    return run


# Every pass a test runs through `bill` ends within this many seconds (they take well
# under one): a loop that never ends fails its test, rather than hang the run.
PASS_BOUND_S = 3.0


def bounded_pass(
    store: Store, provider: PaymentProvider, request: PassRequest, runtime: Runtime
) -> PassResult:
    """`run_pass`, which must end within PASS_BOUND_S."""
    return within(PASS_BOUND_S, lambda: run_pass(store, provider, request, runtime))


def bounded_preview(*args: Any, **kwargs: Any) -> PreviewResult:
    """`preview_pass` (a dry run), which must end within PASS_BOUND_S."""
    return within(PASS_BOUND_S, lambda: preview_pass(*args, **kwargs))


class Runaway(BaseException):
    """Raised inside a pass that outlived its bound, to end it before the test's cleanup
    closes what it still uses (a database connection closed under a running statement
    would crash the process rather than fail the test)."""


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work()`'s result or exception, from a thread of its own; fails the test if it
    has not ended within `seconds`, once the thread has been made to stop."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread as it is
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name="pass", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        # An endless loop runs Python code: it meets the exception at its next step.
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(worker.ident or 0), ctypes.py_object(Runaway)
        )
        worker.join(seconds)
        pytest.fail(f"the pass did not end within {seconds:g} s", pytrace=False)
    ended, value = outcome[0]
    if not ended:
        raise value
    return cast(T, value)


@pytest.fixture
def sql(db_path: Path) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    """Query the database through its own connection, as an outside observer would."""
    conns: list[sqlite3.Connection] = []

    def query(statement: str, *params: Any) -> list[tuple[Any, ...]]:
        if not conns:
            # A provider's hook may look from a call thread: one thread at a time.
            conns.append(sqlite3.connect(db_path, check_same_thread=False))
        return conns[0].execute(statement, params).fetchall()

    yield query
    for conn in conns:
        conn.close()


@pytest.fixture
def edit(db_path: Path) -> Iterator[Callable[..., None]]:
    """Write the database by hand, the way an operator with sqlite3 would: foreign keys
    off (sqlite3's default), our triggers as they are."""
    conns: list[sqlite3.Connection] = []

    def run(statement: str, *params: Any) -> None:
        if not conns:
            # A provider's hook may edit from the pass's thread, or a call thread.
            conns.append(sqlite3.connect(db_path, isolation_level=None, check_same_thread=False))
        conns[0].execute(statement, params)

    yield run
    for conn in conns:
        conn.close()


def ended_run(edit: Callable[..., None], stamp: str, status: str = "completed") -> None:
    """Run 1, ended before the test's passes: what attempts written by hand name."""
    edit(
        "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at, "
        "finished_at, status) VALUES (1, 'bill', substr(?, 1, 10), 'x', 'x', 1, ?, ?, ?)",
        stamp,
        stamp,
        stamp,
        status,
    )


def key_past_the_limit(edit: Callable[..., None], invoice_id: int, customer_id: int) -> None:
    """A declined attempt numbered at the 64-bit limit: the invoice's next key cannot be
    built (the judgement holds it as malformed)."""
    stamp = "2026-11-01T00:00:00+00:00"
    ended_run(edit, stamp)
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, outcome, started_at, finished_at) "
        "VALUES (?, ?, ?, 'by-hand', 1, 'bill', 100, 'EUR', 'PENDING', 'declined', ?, ?)",
        invoice_id,
        customer_id,
        2**63 - 1,
        stamp,
        stamp,
    )


def key_taken_by_hand(
    edit: Callable[..., None], invoice_id: int, customer_id: int, *more: tuple[int, int]
) -> None:
    """The key each invoice's first claim will take (`invoice_id` for `customer_id`, and
    each of `more` as such a pair), already taken by an attempt written by hand for an
    invoice that does not exist: claiming it breaks a batch claim."""
    stamp = "2026-11-01T00:00:00+00:00"
    ended_run(edit, stamp)
    for n, (invoice, customer) in enumerate(((invoice_id, customer_id), *more)):
        edit(
            "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
            "run_id, command, amount, currency, from_status, outcome, started_at, finished_at) "
            "SELECT ?, ?, 1, value || '-inv-' || ? || '-1', 1, 'bill', 100, 'EUR', "
            "'PENDING', 'declined', ?, ? FROM meta WHERE key = 'namespace'",
            999999 - n,
            customer,
            invoice,
            stamp,
            stamp,
        )


def stored_text(*paths: Path) -> str:
    """Every text value in every table of these SQLite files, one per line: to look
    for what must never be stored."""
    found: list[str] = []
    for path in paths:
        conn = sqlite3.connect(path)
        try:
            tables = [
                n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    found += [str(value) for value in row if isinstance(value, str | bytes)]
        finally:
            conn.close()
    return "\n".join(found)


# PostgreSQL: one throwaway cluster per test process (each xdist worker starts its own),
# a fresh database per test. Without server binaries the tests that need one are
# skipped and named in the summary; ANTAEUS_TEST_PG=require (CI) fails them instead.
@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    try:
        cluster = pg.start()
    except pg.NoServer as exc:
        if os.environ.get(pg.REQUIRE) == "require":
            pytest.fail(f"{exc} ({pg.REQUIRE}=require)")
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(pg_cluster: pg.Cluster) -> Iterator[str]:
    """A new, empty database of its own: its conninfo."""
    psycopg = pytest.importorskip("psycopg")
    name = f"test_{os.getpid()}_{next(_DATABASES)}"
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_cluster.conninfo(name)
    finally:
        with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_DATABASES = itertools.count()
