"""What the engine tells its observer and its failpoints: the seams the CLI's progress
and the crash tests stand on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from antaeus_cli import failpoints as fp
from antaeus_cli.billing.engine import Engine, PassSettings, StopRequest
from antaeus_cli.billing.pacing import AdaptivePacer
from antaeus_cli.billing.results import Command, PassResult, Phase, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime
from antaeus_cli.domain.attempt import Settled
from antaeus_cli.domain.invoice import InvoiceRow, Rejection, idempotency_key
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.money import Currency
from antaeus_cli.store.database import Store
from tests.conftest import ME, bounded_pass, ended_run
from tests.fakes import DECLINED, LOST_REQUEST, FakeProvider, FixedClock, dead


class Recorded(fp.Failpoints):
    """Armed (so the engine calls it), but it records instead of killing."""

    hits: list[tuple[str, int]]

    def hit(self, name: str, value: int) -> None:
        self.hits.append((name, value))


def recorded() -> Recorded:
    points = Recorded({("nothing", 0)})
    points.hits = []
    return points


@dataclass
class Watching(SilentObserver):
    phases: list[tuple[Phase, int]] = field(default_factory=list)
    held_ones: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def phase(self, phase: Phase, total: int) -> None:
        self.phases.append((phase, total))

    def held(self, invoice_id: int, rejection: Rejection) -> None:
        self.held_ones.append((invoice_id, rejection.code.value))

    def settled(self, settled: Settled) -> None:
        pass

    def rejected(self, row: InvoiceRow, rejection: Rejection) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)


def run(db_path: Path, provider: FakeProvider, **kw: object) -> tuple[Watching, Recorded]:
    observer, points = Watching(), recorded()
    invoice_ids = kw.pop("invoice_ids", ())
    command = kw.pop("command", Command.BILL)
    store = Store.open(db_path)
    try:
        bounded_pass(
            store,
            provider,
            PassRequest(command, PassSettings(as_of=date(2026, 12, 1), **kw), invoice_ids),  # type: ignore[arg-type]
            Runtime(FixedClock(), StopRequest(), observer, ME, dead, points),
        )
    finally:
        store.close()
    return observer, points


def test_each_phase_is_announced_with_what_it_holds(
    make: Callable[..., Path], db_path: Path
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 4)])
    observer, _ = run(db_path, FakeProvider())
    assert observer.phases == [(Phase.RECONCILE, 0), (Phase.CHARGE, 3)]


def test_batches_are_numbered_from_one_in_each_phase(
    make: Callable[..., Path], db_path: Path
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    _, points = run(db_path, FakeProvider(), batch_size=2)
    batches = [value for name, value in points.hits if name == fp.BETWEEN_BATCHES]
    assert batches == [1, 2, 3]


def test_a_hold_is_told_to_the_observer_with_its_invoice_and_reason(
    make: Callable[..., Path], db_path: Path, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    ended_run(edit, "2026-11-01T00:00:00+00:00")
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, started_at) VALUES "
        "(1, 1, 1, 'by-hand', 1, 'bill', 100, 'XYZ', 'PENDING', 'not a time')"
    )
    observer, _ = run(db_path, FakeProvider())
    assert observer.held_ones == [(1, "malformed")]


def test_a_network_provider_is_paced_by_its_rate_limits(
    db_path: Path, make: Callable[..., Path]
) -> None:
    make((1, 100, "EUR"))
    store = Store.open(db_path)
    try:
        engine = Engine(
            store,
            FakeProvider(io_bound=True),
            PassSettings(as_of=date(2026, 12, 1)),
            run_id=1,
            clock=FixedClock(),
            stop=StopRequest(),
            observer=SilentObserver(),
        )
    finally:
        store.close()
    assert isinstance(engine.pacer, AdaptivePacer)


def test_a_named_retry_is_claimed_under_the_next_key_and_handed_back_if_never_sent(
    make: Callable[..., Path], db_path: Path, sql: Callable[..., list[tuple[object, ...]]]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    run(db_path, FakeProvider(default=DECLINED))
    stop = StopRequest()
    provider = FakeProvider(after_call=lambda _invoice: stop.request("test"))
    store = Store.open(db_path)
    try:
        namespace = store.namespace
        bounded_pass(
            store,
            provider,
            PassRequest(Command.RETRY_FAILED, PassSettings(as_of=date(2026, 12, 1)), (1, 2)),
            Runtime(FixedClock(), stop, SilentObserver(), ME, dead),
        )
    finally:
        store.close()
    assert provider.calls == [(1, idempotency_key(namespace, 1, 2))]
    # Invoice 2 was claimed under its next key, then never sent: a fresh attempt,
    # handed back at once, not left open for a replay.
    assert sql(
        "SELECT idempotency_key, outcome FROM payment_attempt WHERE invoice_id = 2 "
        "ORDER BY attempt_no"
    ) == [
        (idempotency_key(namespace, 2, 1), "declined"),
        (idempotency_key(namespace, 2, 2), "abandoned"),
    ]


def test_a_replay_a_cap_keeps_open_is_told_to_the_observer_with_what_to_do(
    make: Callable[..., Path], db_path: Path, bill: Callable[..., PassResult]
) -> None:
    make((1, 1000, "EUR"), (2, 1000, "EUR"))
    # both requests lost, and not looked up: two keys in doubt for the next pass
    bill(FakeProvider(default=LOST_REQUEST, can_lookup=False), sweeps=0, outage_threshold=100)
    store = Store.open(db_path)
    try:
        namespace = store.namespace
    finally:
        store.close()
    caps = RunLimits(max_total={Currency("EUR"): 1500})
    observer, _ = run(db_path, FakeProvider(), limits=caps, sweeps=0)
    assert observer.notes == [
        f"run cap: sending key {idempotency_key(namespace, 2, 1)} of invoice 2 (EUR 10.00) "
        "again would take this pass past --max-total EUR 15.00 (EUR 10.00 charged or in "
        "doubt so far); it is looked up only and stays open for a later pass: raise "
        "--max-total for one pass to settle it"
    ]


def test_a_second_walk_is_announced_only_for_what_a_breaker_handed_back(
    make: Callable[..., Path], db_path: Path, edit: Callable[..., None]
) -> None:
    """An invoice written during the pass below the walk's place is due, and left for
    the next pass; it is nothing a breaker handed back, so no second walk is run for it."""

    def insert_below(invoice_id: int) -> None:
        if invoice_id == 11:
            edit(
                "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
                "updated_at) VALUES (5, 10, 100, 'EUR', '2026-12-01', 't', 't')"
            )

    make((10, 100, "EUR"), (11, 100, "EUR"))
    observer, _ = run(db_path, FakeProvider(after_call=insert_below))
    assert observer.phases == [(Phase.RECONCILE, 0), (Phase.CHARGE, 2)]
