"""Hypothesis drives bill, retry-failed, crashes, outages and provider moods in any
order, and checks the ledger's invariants after every step."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.results import Command, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime
from antaeus_cli.errors import NotRetryable
from antaeus_cli.store.database import Store
from tests.conftest import ME, bounded_pass, make_db, scenario
from tests.fakes import (
    CHARGED,
    DECLINED,
    LOST_REQUEST,
    LOST_RESPONSE,
    NOT_FOUND,
    Crash,
    FakeProvider,
    FixedClock,
    dead,
)

INVOICES = range(1, 7)
MOODS = [CHARGED, DECLINED, NOT_FOUND, LOST_REQUEST, LOST_RESPONSE]


class Billing(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="antaeus-stateful-"))
        self.db = self.folder / "antaeus.db"
        self.clock = FixedClock(datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
        make_db(self.db, scenario(*[(i, 100 * i, "EUR") for i in INVOICES]), self.clock)
        self.provider = FakeProvider(io_bound=False)
        self.day = date(2026, 12, 1)
        self.settled: dict[str, tuple[str, int]] = {}

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _pass(
        self,
        command: Command,
        crash_at: int | None,
        ids: tuple[int, ...] = (),
        stop_after: int | None = None,
    ) -> None:
        self.provider.crash_after_booking = {crash_at} if crash_at else set()
        stop = StopRequest()
        calls = 0

        def count(_invoice: int) -> None:
            nonlocal calls
            calls += 1
            if stop_after is not None and calls >= stop_after:
                stop.request("received SIGTERM")

        self.provider.after_call = count
        settings = PassSettings(
            as_of=self.day,
            retry=RetryPolicy(max_calls=2, sleep=lambda _: None),
            batch_size=3,
            outage_threshold=2,
            sweeps=1,
        )
        store = Store.open(self.db)
        try:
            bounded_pass(
                store,
                self.provider,
                PassRequest(command, replace(settings), ids),
                Runtime(self.clock, stop, SilentObserver(), ME, dead),
            )
        except Crash:
            pass  # the process "died": its lock and open attempts stay behind
        finally:
            store.close()
            self.provider.crash_after_booking = set()
            self.provider.after_call = None

    @rule(invoice=st.none() | st.sampled_from(INVOICES), mood=st.sampled_from(MOODS))
    def provider_mood(self, invoice: int | None, mood: str) -> None:
        """The provider's next answers: for one invoice, or for everyone (an outage)."""
        if invoice is None:
            self.provider.default = mood
            self.provider.script.clear()
        else:
            self.provider.script[invoice] = [mood]

    @rule(
        command=st.sampled_from(list(Command)),
        crash_at=st.none() | st.sampled_from(INVOICES),
        stop_after=st.none() | st.integers(1, 3),
    )
    def billing_pass(self, command: Command, crash_at: int | None, stop_after: int | None) -> None:
        """A pass that may die at an invoice (SIGKILL) or be asked to stop (SIGTERM)."""
        self._pass(command, crash_at, stop_after=stop_after)

    @rule(invoice=st.sampled_from(INVOICES))
    def operator_retries(self, invoice: int) -> None:
        with contextlib.suppress(NotRetryable):  # PAID, PENDING or in flight: refused, rightly
            self._pass(Command.RETRY_FAILED, None, (invoice,))

    @rule(days=st.integers(1, 4))
    def time_passes(self, days: int) -> None:
        self.day += timedelta(days=days)
        self.clock.advance(days=days)

    def _rows(self, query: str) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(query).fetchall()
        finally:
            conn.close()

    @invariant()
    def nobody_is_charged_twice(self) -> None:
        per_invoice = Counter(
            key.split("-inv-")[1].split("-")[0] for key in self.provider.charged_keys
        )
        assert all(n == 1 for n in per_invoice.values()), per_invoice

    @invariant()
    def money_that_moved_is_paid_or_still_being_reconciled(self) -> None:
        status = dict(self._rows("SELECT id, status FROM invoice"))
        attempts = {
            k: (o, i)
            for k, o, i in self._rows(
                "SELECT idempotency_key, outcome, invoice_id FROM payment_attempt"
            )
        }
        for key in self.provider.charged_keys:
            outcome, invoice = attempts[key]  # no money moves under a key we did not write
            if status[invoice] == "PAID":
                assert outcome == "charged", (key, outcome)
            else:
                assert outcome in ("started", "unknown"), (key, outcome, status[invoice])
        for key, (outcome, invoice) in attempts.items():
            if outcome == "charged":
                assert key in self.provider.charged_keys
                assert status[invoice] == "PAID"

    @invariant()
    def an_invoice_has_at_most_one_open_attempt_and_its_status_says_so(self) -> None:
        rows = self._rows(
            "SELECT a.invoice_id, a.outcome, a.from_status, i.status FROM payment_attempt a "
            "JOIN invoice i ON i.id = a.invoice_id WHERE a.finished_at IS NULL"
        )
        open_per_invoice = Counter(row[0] for row in rows)
        assert all(n == 1 for n in open_per_invoice.values()), open_per_invoice
        for invoice, outcome, from_status, status in rows:
            if outcome == "unknown":
                assert status == "PROCESSING", invoice
            else:  # claimed, answer not recorded (a crash): the invoice was never touched
                assert status == from_status, (invoice, status, from_status)
        processing = {
            r[0] for r in self._rows("SELECT id FROM invoice WHERE status = 'PROCESSING'")
        }
        assert processing <= set(open_per_invoice)

    @invariant()
    def settled_attempts_never_change(self) -> None:
        rows = self._rows(
            "SELECT idempotency_key, outcome, amount FROM payment_attempt "
            "WHERE outcome NOT IN ('started', 'unknown')"
        )
        for key, outcome, amount in rows:
            seen = self.settled.setdefault(str(key), (str(outcome), int(amount)))  # type: ignore[call-overload]
            assert seen == (outcome, amount), key
        assert len(rows) == len(self.settled)

    @invariant()
    def declines_match_the_ledger(self) -> None:
        rows = self._rows(
            "SELECT i.id, i.decline_count, (SELECT count(*) FROM payment_attempt a "
            "WHERE a.invoice_id = i.id AND a.outcome = 'declined') FROM invoice i"
        )
        for invoice, recorded, declined in rows:
            assert recorded == declined, invoice

    @invariant()
    def the_file_is_sound(self) -> None:
        assert self._rows("PRAGMA integrity_check") == [("ok",)]
        assert self._rows("PRAGMA foreign_key_check") == []


# `make chaos` sets HYPOTHESIS_PROFILE=chaos for a much longer search; `make mutants`
# sets it to mutants for a short one, run once per mutant.
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE")
Billing.TestCase.settings = settings(
    max_examples={"chaos": 400, "mutants": 15}.get(_PROFILE or "", 50),
    stateful_step_count=40 if _PROFILE == "chaos" else 20,
    deadline=None,
    print_blob=True,
)
TestBilling = Billing.TestCase
