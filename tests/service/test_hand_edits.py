"""The property: for rows the schema accepts and any hand edit between passes, repeated
passes never end in an internal error (exit 70), never charge an invoice twice, and
leave every attempt settled or open for a stated reason."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.results import Command, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime
from antaeus_cli.cli.boundary import exit_code_for_error
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.errors import AntaeusError
from antaeus_cli.store.database import Store
from tests.conftest import ME, bounded_pass, make_db, scenario
from tests.fakes import (
    CHARGED,
    DECLINED,
    HARD,
    LOST_REQUEST,
    LOST_RESPONSE,
    NEEDS_CUSTOMER,
    PROCESSING,
    FakeProvider,
    FixedClock,
    dead,
)

INVOICES = range(1, 7)
MOODS = [CHARGED, DECLINED, HARD, NEEDS_CUSTOMER, PROCESSING, LOST_REQUEST, LOST_RESPONSE]
LIMIT = 2**63 - 1

# Values a hand edit may write: the limits of a 64-bit integer, text, bytes, floats,
# NULL, and the values the columns are meant to hold.
hostile = st.one_of(
    st.sampled_from([0, -1, 1, LIMIT, -LIMIT - 1, LIMIT - 1, 2**62]),
    st.integers(-(2**63), LIMIT),
    st.text(max_size=6),
    st.binary(max_size=3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.sampled_from(
        [
            "PENDING",
            "PROCESSING",
            "PAID",
            "FAILED",
            "NEEDS_OPERATOR",
            "UNCOLLECTIBLE",
            "AWAITING_CUSTOMER",
            "EUR",
            "USD",
            "XYZ",
            "2026-12-01",
            "9999-12-31",
            "0000-01-01",
            "declined",
            "malformed",
            "cus_x",
            "charged",
            "started",
            "2026-11-30T00:00:00+00:00",
            "2026-11-30",
        ]
    ),
)
INVOICE_COLUMNS = [
    "id",
    "customer_id",
    "amount",
    "currency",
    "status",
    "due_date",
    "decline_count",
    "first_declined_on",
    "next_retry_on",
    "failure_code",
    "failure_detail",
    "paid_at",
]
ATTEMPT_COLUMNS = [
    "outcome",
    "finished_at",
    "error",
    "provider_calls",
    "provider_ref",
    "attempt_no",
    "amount",
    "settled_by_run_id",
]


@dataclass(frozen=True)
class Edit:
    statement: str
    params: tuple[Any, ...]


# A status change with the columns the schema ties to it, as an operator would write it.
STATUS_EDITS = {
    "PENDING": "failure_code = NULL, next_retry_on = NULL, paid_at = NULL",
    "PROCESSING": "paid_at = NULL",
    "PAID": "failure_code = NULL, next_retry_on = NULL, paid_at = '2026-12-01T00:00:00+00:00'",
    "FAILED": "failure_code = 'declined', next_retry_on = '2026-12-02', paid_at = NULL",
    "NEEDS_OPERATOR": "failure_code = 'malformed', next_retry_on = NULL, paid_at = NULL",
    "UNCOLLECTIBLE": "failure_code = 'dunning_exhausted', next_retry_on = NULL, paid_at = NULL",
    "AWAITING_CUSTOMER": "failure_code = 'hard_decline', next_retry_on = NULL, paid_at = NULL",
}

edits = st.one_of(
    st.builds(
        lambda status, target: Edit(
            f"UPDATE invoice SET status = ?, {STATUS_EDITS[status]} WHERE id = ?",
            (status, target),
        ),
        st.sampled_from(sorted(STATUS_EDITS)),
        st.sampled_from(list(INVOICES)),
    ),
    st.builds(
        lambda column, value, target: Edit(
            f"UPDATE invoice SET {column} = ? WHERE id = ?", (value, target)
        ),
        st.sampled_from(INVOICE_COLUMNS),
        hostile,
        st.sampled_from(list(INVOICES)),
    ),
    st.builds(
        lambda column, value, target: Edit(
            f"UPDATE payment_attempt SET {column} = ? WHERE invoice_id = ?", (value, target)
        ),
        st.sampled_from(ATTEMPT_COLUMNS),
        hostile,
        st.sampled_from(list(INVOICES)),
    ),
    st.builds(
        lambda column, value: Edit(f"UPDATE customer SET {column} = ? WHERE id = 1", (value,)),
        st.sampled_from(["currency", "provider_ref"]),
        hostile,
    ),
    st.builds(
        lambda target: Edit("DELETE FROM invoice WHERE id = ?", (target,)),
        st.sampled_from(list(INVOICES)),
    ),
    st.builds(
        lambda values: Edit(
            "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
            "run_id, command, amount, currency, from_status, started_at) "
            "SELECT ?, ?, ?, 'by-hand-' || ?, max(id), 'bill', ?, ?, 'PENDING', ? "
            "FROM billing_run",
            values,
        ),
        st.tuples(
            st.sampled_from(list(INVOICES)),
            hostile,
            hostile,
            st.integers(0, 9),
            hostile,
            hostile,
            hostile,
        ),
    ),
    st.builds(
        lambda value: Edit("UPDATE collected SET amount = ?, count = ?", (value, value)),
        hostile,
    ),
)
step = st.one_of(
    st.tuples(st.just("edit"), edits),
    st.tuples(
        st.just("pass"),
        st.tuples(
            st.sampled_from([Command.BILL, Command.RETRY_FAILED]),
            st.dictionaries(st.sampled_from(list(INVOICES)), st.sampled_from(MOODS)),
            st.integers(0, 9),  # days on
        ),
    ),
)


class World:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="antaeus-edits-"))
        self.db = self.folder / "antaeus.db"
        self.clock = FixedClock(datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
        customers = dict.fromkeys(INVOICES, "EUR")
        make_db(self.db, scenario(*[(i, 100 * i, "EUR") for i in INVOICES], customers=customers))
        self.provider = FakeProvider(key_retention=timedelta(hours=24))
        self.day = date(2026, 12, 1)
        self.endings: list[ExitCode] = []  # exit codes of passes that ended in an error

    def edit(self, edit: Edit) -> None:
        conn = sqlite3.connect(self.db)  # foreign keys off, as sqlite3 leaves them
        try:
            conn.execute(edit.statement, edit.params)
            conn.commit()
        except (sqlite3.Error, OverflowError):
            pass  # the schema refused the edit: nothing to see
        finally:
            conn.close()

    def run(self, command: Command, moods: dict[int, str], days: int) -> None:
        self.day += timedelta(days=days)
        self.clock.now = datetime.combine(self.day, datetime.min.time(), UTC)
        self.provider.script = {invoice: [mood, CHARGED] for invoice, mood in moods.items()}
        store = Store.open(self.db)
        try:
            bounded_pass(
                store,
                self.provider,
                PassRequest(
                    command,
                    PassSettings(
                        as_of=self.day,
                        retry=RetryPolicy(max_calls=2, sleep=lambda _: None),
                        batch_size=2,
                        outage_threshold=3,
                        sweeps=1,
                    ),
                ),
                Runtime(
                    clock=self.clock,
                    stop=StopRequest(),
                    observer=SilentObserver(),
                    me=ME,
                    is_alive=dead,
                ),
            )
        except AntaeusError as exc:  # a documented ending, with its own exit code
            self.endings.append(exit_code_for_error(exc))
        finally:
            store.close()

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(query).fetchall()
        finally:
            conn.close()


def charges_per_invoice(world: World) -> Counter[int]:
    """How many keys the provider charged for each invoice id."""
    charged = set(world.provider.charged_keys)
    return Counter(invoice for invoice, key in set(world.provider.calls) if key in charged)


# `make chaos` sets HYPOTHESIS_PROFILE=chaos for a much longer search; `make mutants`
# sets it to mutants for a short one, run once per mutant.
@settings(
    max_examples={"chaos": 1000, "mutants": 30}.get(os.environ.get("HYPOTHESIS_PROFILE", ""), 120),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(step, min_size=1, max_size=8))
def test_hand_edits_never_stop_billing_nor_charge_twice(steps: list[Any]) -> None:
    world = World()
    try:
        for kind, what in steps:
            if kind == "edit":
                world.edit(what)
            else:
                world.run(*what)
        # Then the provider is healthy, and two passes of each command run.
        for command in (Command.BILL, Command.RETRY_FAILED, Command.BILL, Command.RETRY_FAILED):
            world.run(command, {}, 1)
        assert ExitCode.INTERNAL not in world.endings
        twice = {invoice: n for invoice, n in charges_per_invoice(world).items() if n > 1}
        assert twice == {}, "charged twice"
        unexplained = world.rows(
            "SELECT a.id FROM payment_attempt a LEFT JOIN invoice i ON i.id = a.invoice_id "
            "WHERE a.finished_at IS NULL AND a.error IS NULL "
            "AND coalesce(i.status, '') <> 'NEEDS_OPERATOR'"
        )
        assert unexplained == [], "open attempts with no stated reason"
    finally:
        shutil.rmtree(world.folder, ignore_errors=True)
