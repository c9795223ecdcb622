"""The simulated provider: its own books, idempotent keys, faults in both directions."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.money import Currency, Money
from antaeus_cli.domain.outcomes import CHARGED, AnswerKind
from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.provider.port import Interrupted, KeyConflict, NetworkError, NotSent, RateLimited
from antaeus_cli.provider.sim import SimProvider, SimSettings, settings_from_spec
from antaeus_cli.provider.sim_ledger import Account, SimLedger
from antaeus_cli.provider.spec import parse_spec
from tests.conftest import Sleeps
from tests.fakes import FixedClock

EUR = Currency("EUR")


def provider(
    tmp_path: Path,
    rate: float = 0.0,
    seed: int = 1,
    clock: FixedClock | None = None,
    **settings: Any,
) -> SimProvider:
    path = tmp_path / "provider.db"
    if not path.exists():
        SimLedger.create(path, [Account(1, "EUR", 1000), Account(2, "USD", 10**6)]).close()
    return SimProvider(
        SimLedger.open(path),
        SimSettings(0, rate, seed, **settings),
        "sim://",
        clock=clock or FixedClock(),
    )


def kind(sim: SimProvider, invoice: Invoice, key: str) -> AnswerKind:
    return sim.charge(invoice, key).kind


def inv(invoice_id: int, customer: int, minor: int, currency: Currency = EUR) -> Invoice:
    return Invoice(invoice_id, customer, Money(minor, currency))


def test_charges_move_money_once_per_key(tmp_path: Path) -> None:
    sim = provider(tmp_path)
    assert sim.charge(inv(1, 1, 600), "k1") is CHARGED
    assert sim.charge(inv(1, 1, 600), "k1") is CHARGED  # a replay, not a second charge
    declined = sim.charge(inv(2, 1, 600), "k2")  # only 400 left
    assert (declined.kind, declined.code) == (AnswerKind.DECLINED, "insufficient_funds")
    assert sim.charge(inv(2, 1, 600), "k2") == declined  # the replay gives the first answer
    charges = SimLedger.open(tmp_path / "provider.db").charges()
    assert [(c["idempotency_key"], c["outcome"], c["replays"]) for c in charges] == [
        ("k1", "charged", 1),
        ("k2", "declined", 1),
    ]


def test_unknown_customers_and_currency_mismatches_are_answers(tmp_path: Path) -> None:
    sim = provider(tmp_path)
    assert kind(sim, inv(1, 99, 10), "k1") is AnswerKind.CUSTOMER_NOT_FOUND
    assert kind(sim, inv(2, 2, 10, Currency("EUR")), "k2") is AnswerKind.CURRENCY_MISMATCH


def test_a_key_reused_for_another_request_is_refused(tmp_path: Path) -> None:
    sim = provider(tmp_path)
    sim.charge(inv(1, 1, 100), "k1")
    # The earlier request under the key was processed: open, to be looked up, not closed.
    with pytest.raises(KeyConflict, match="first used"):
        sim.charge(inv(1, 1, 200), "k1")


def test_faults_happen_in_both_directions_and_repeat_with_the_seed(tmp_path: Path) -> None:
    def run(seed: int) -> list[str]:
        folder = tmp_path / str(seed)
        folder.mkdir(exist_ok=True)
        sim = provider(folder, rate=0.5, seed=seed)
        seen = []
        for n in range(60):
            try:
                sim.charge(inv(n, 2, 1, Currency("USD")), f"key-{n}")
                seen.append("ok")
            except NetworkError as exc:
                seen.append("lost-request" if "before" in str(exc) else "lost-response")
        return seen

    first = run(7)
    assert first == run(7)
    assert {"ok", "lost-request", "lost-response"} <= set(first)
    ledger = SimLedger.open(tmp_path / "7" / "provider.db")
    booked = {c["invoice_id"] for c in ledger.charges()}
    for n, what in enumerate(first):
        assert (n in booked) == (what != "lost-request"), n


def test_a_missing_ledger_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderSpecError, match="antaeus seed"):
        SimProvider.from_spec(parse_spec("sim://"), tmp_path / "antaeus.db")


def test_an_in_memory_ledger_starts_from_the_file_and_leaves_it_alone(tmp_path: Path) -> None:
    SimLedger.create(tmp_path / "antaeus.provider.db", [Account(1, "EUR", 1000)]).close()
    sim = SimProvider.from_spec(parse_spec("sim://?ledger=:memory:"), tmp_path / "antaeus.db")
    assert sim.charge(inv(1, 1, 600), "k1") is CHARGED
    assert sim.lookup(inv(1, 1, 600), "k1", since=datetime.now(UTC), reference=None) is CHARGED
    assert SimLedger.open(tmp_path / "antaeus.provider.db").charges() == []


def test_a_key_past_its_retention_is_forgotten_and_charges_again(tmp_path: Path) -> None:
    clock = FixedClock()
    sim = provider(tmp_path, clock=clock, key_retention_h=24)
    assert sim.charge(inv(1, 1, 300), "k1") is CHARGED
    clock.advance(hours=23)
    assert sim.charge(inv(1, 1, 300), "k1") is CHARGED  # a replay: still 700 left
    clock.advance(hours=2)
    assert sim.charge(inv(1, 1, 300), "k1") is CHARGED  # forgotten: a second charge
    charges = SimLedger.open(tmp_path / "provider.db").charges()
    assert [c["outcome"] for c in charges] == ["charged", "charged"]
    # What a blind re-send past the window costs: the balance shows both charges.
    assert kind(sim, inv(2, 1, 500), "k2") is AnswerKind.DECLINED  # 400 left, not 700


def test_a_lookup_finds_a_key_however_old_and_nothing_it_never_saw(tmp_path: Path) -> None:
    clock = FixedClock()
    sim = provider(tmp_path, clock=clock, key_retention_h=24)
    sim.charge(inv(1, 1, 300), "k1")
    clock.advance(hours=36)
    since = clock.now
    assert sim.lookup(inv(1, 1, 300), "k1", since=since, reference=None) is CHARGED
    assert sim.lookup(inv(1, 1, 300), "never-sent", since=since, reference=None) is None


def test_the_simulator_gives_each_kind_of_answer_at_its_rate(tmp_path: Path) -> None:
    sim = provider(
        tmp_path,
        seed=3,
        hard_decline_rate=0.2,
        needs_customer_rate=0.2,
        processing_rate=0.2,
    )
    kinds = Counter(kind(sim, inv(n, 2, 1, Currency("USD")), f"key-{n}") for n in range(500))
    # DECLINED here are the hard declines: customer 2 can afford every charge.
    for expected in (AnswerKind.DECLINED, AnswerKind.REQUIRES_ACTION, AnswerKind.PROCESSING):
        assert 50 < kinds[expected] < 150, kinds
    assert kinds[AnswerKind.CHARGED] > 150
    # A processing charge settles as charged when it is looked up.
    ledger = SimLedger.open(tmp_path / "provider.db")
    processing = [c for c in ledger.charges() if c["outcome"] == "processing"]
    first = processing[0]
    found = sim.lookup(
        inv(int(str(first["invoice_id"])), 2, 1, Currency("USD")),
        str(first["idempotency_key"]),
        since=datetime.now(UTC),
        reference=None,
    )
    assert found is CHARGED


def test_rate_limited_requests_book_nothing(tmp_path: Path) -> None:
    sim = provider(tmp_path, seed=5, rate_limit_rate=0.5)
    limited = 0
    for n in range(40):
        try:
            sim.charge(inv(n, 2, 1, Currency("USD")), f"key-{n}")
        except RateLimited:
            limited += 1
            assert (
                sim.lookup(
                    inv(n, 2, 1, Currency("USD")),
                    f"key-{n}",
                    since=datetime.now(UTC),
                    reference=None,
                )
                is None
            )
    assert 5 < limited < 35


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("hard_decline_rate=1.5", "from 0 to 1"),
        ("processing_rate=nan", "from 0 to 1"),
        ("hard_decline_rate=0.6&needs_customer_rate=0.6", "more than 1"),
        ("key_retention_h=0", "whole number"),
        ("key_retention_h=abc", "whole number"),
    ],
)
def test_bad_simulator_parameters_are_refused(query: str, fragment: str) -> None:
    with pytest.raises(ProviderSpecError, match=fragment):
        settings_from_spec(parse_spec(f"sim://?{query}"))


def test_a_version_1_ledger_is_upgraded_with_its_charges(tmp_path: Path) -> None:
    path = tmp_path / "provider.db"
    SimLedger.create(path, [Account(1, "EUR", 1000)]).close()
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        DROP TABLE charge;
        CREATE TABLE charge (idempotency_key TEXT PRIMARY KEY, invoice_id INTEGER NOT NULL,
            customer_id INTEGER NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
            outcome TEXT NOT NULL, created_at TEXT NOT NULL, replays INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        INSERT INTO charge VALUES
            ('k1', 1, 1, 100, 'EUR', 'charged', '2026-11-30T00:00:00+00:00', 0);
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    sim = provider(tmp_path)
    assert sim.charge(inv(1, 1, 100), "k1") is CHARGED  # a replay of the old key
    charges = SimLedger.open(path).charges()
    assert [(c["idempotency_key"], c["replays"]) for c in charges] == [("k1", 1)]


def stopping_sim(
    tmp_path: Path, latency_ms: int, stop: threading.Event
) -> tuple[SimProvider, Sleeps]:
    path = tmp_path / "provider.db"
    SimLedger.create(path, [Account(1, "EUR", 10**6)]).close()
    sleeps = Sleeps()
    sim = SimProvider(
        SimLedger.open(path), SimSettings(latency_ms), "sim://", sleep=sleeps, stop=stop
    )
    return sim, sleeps


def test_a_stopping_pass_sends_the_simulator_nothing(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    sim, sleeps = stopping_sim(tmp_path, 30_000, stop)
    with pytest.raises(NotSent):
        sim.charge(inv(1, 1, 600), "k1")
    with pytest.raises(NotSent):
        sim.lookup(inv(1, 1, 600), "k1", since=datetime.now(UTC), reference=None)
    assert sleeps.waits == []
    assert SimLedger.open(tmp_path / "provider.db").charges() == []


def test_a_stop_cuts_a_request_on_its_way_after_two_seconds_of_grace(tmp_path: Path) -> None:
    """30 s on its way; the stop comes at once: the request gets the 2 s a request in
    flight gets, then it is cut before it is booked, its fate unknown to the pass."""
    stop = threading.Event()
    sim, sleeps = stopping_sim(tmp_path, 30_000, stop)
    threading.Timer(0.05, stop.set).start()
    with pytest.raises(Interrupted):
        sim.charge(inv(1, 1, 600), "k1")
    assert sleeps.waits == [2.0]
    assert SimLedger.open(tmp_path / "provider.db").charges() == []


def test_a_request_whose_way_ends_within_the_grace_is_booked(tmp_path: Path) -> None:
    stop = threading.Event()
    sim, sleeps = stopping_sim(tmp_path, 1_000, stop)
    threading.Timer(0.05, stop.set).start()
    assert sim.charge(inv(1, 1, 600), "k1") is CHARGED
    assert len(sleeps.waits) == 1
    assert 0.8 < sleeps.waits[0] < 1.0  # the rest of its way
