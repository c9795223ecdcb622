"""The report's fast totals equal a full count, whatever was written and by whom."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store import queries
from tests.fakes import DECLINED, LOST_REQUEST, NOT_FOUND, FakeProvider

Bill = Callable[..., PassResult]


def both(db_path: Path) -> tuple[list[Any], list[Any]]:
    conn = sqlite3.connect(db_path)
    try:
        return queries.totals_by_status_and_currency(conn), queries._exact_totals(conn)
    finally:
        conn.close()


def test_totals_match_a_full_count_through_billing(
    make: Callable[..., Path], bill: Bill, db_path: Path
) -> None:
    due = date(2026, 12, 1)
    make(
        *[SeedInvoice(i, i, 100 * i, ["EUR", "USD", "DKK"][i % 3], due) for i in range(1, 31)],
        SeedInvoice(31, 31, 0, "EUR", due),
        SeedInvoice(32, 32, 500, "XYZ", due),
        customers={
            **{i: ["EUR", "USD", "DKK"][i % 3] for i in range(1, 31)},
            31: "EUR",
            32: "EUR",
        },
    )
    fast, exact = both(db_path)
    assert fast == exact
    provider = FakeProvider(script={4: [DECLINED], 7: [NOT_FOUND], 9: [LOST_REQUEST]})
    bill(provider, outage_threshold=10, retry=RetryPolicy(max_calls=1), sweeps=0)
    fast, exact = both(db_path)
    assert fast == exact
    assert {row[0] for row in fast} >= {"PAID", "FAILED", "NEEDS_OPERATOR", "PROCESSING"}
    bill(FakeProvider(default=DECLINED), command=Command.RETRY_FAILED, as_of=date(2026, 12, 30))
    assert both(db_path)[0] == both(db_path)[1]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete", "amount", "currency", "status"]),
            st.integers(1, 12),
            st.one_of(st.integers(-(10**6), 10**6), st.sampled_from([2**62, 2**63 - 1])),
            st.sampled_from(["EUR", "USD", "XYZ", "eur"]),
            st.sampled_from(
                ["PENDING", "PAID", "NEEDS_OPERATOR", "UNCOLLECTIBLE", "VOID", "BOGUS"]
            ),
        ),
        max_size=25,
    )
)
def test_totals_survive_writes_by_other_programs(
    tmp_path_factory: Any, edits: list[tuple[str, int, int, str, str]]
) -> None:
    from tests.conftest import make_db, scenario

    db_path = tmp_path_factory.mktemp("totals") / "antaeus.db"
    make_db(db_path, scenario(*[(i, 100 * i, "EUR") for i in range(1, 6)]))
    conn = sqlite3.connect(db_path)  # the sqlite3 shell: no antaeus code involved
    conn.execute("PRAGMA ignore_check_constraints = 1")  # a status no rule knows, too
    for action, invoice_id, amount, currency, status in edits:
        failure = None if status in ("PENDING", "PAID") else "malformed"
        paid_at = "t" if status == "PAID" else None
        if action == "insert":
            conn.execute(
                "INSERT OR IGNORE INTO invoice (id, customer_id, amount, currency, status, "
                "due_date, failure_code, paid_at, created_at, updated_at) "
                "VALUES (?, 1, ?, ?, ?, '2026-12-01', ?, ?, 't', 't')",
                (invoice_id, amount, currency, status, failure, paid_at),
            )
        elif action == "delete":
            conn.execute("DELETE FROM invoice WHERE id = ?", (invoice_id,))
        elif action == "amount":
            conn.execute("UPDATE invoice SET amount = ? WHERE id = ?", (amount, invoice_id))
        elif action == "currency":
            conn.execute("UPDATE invoice SET currency = ? WHERE id = ?", (currency, invoice_id))
        else:
            conn.execute(
                "UPDATE invoice SET status = ?, failure_code = ?, paid_at = ? WHERE id = ?",
                (status, failure, paid_at, invoice_id),
            )
    conn.commit()
    conn.close()
    fast, exact = both(db_path)
    assert fast == exact


def test_a_total_that_overflowed_and_came_back_whole_is_not_trusted(
    make: Callable[..., Path], db_path: Path
) -> None:
    """Insert an invoice of 2**63 - 1, delete it, pay invoice 1: the running total went
    through a REAL and came back a whole number, which SQLite stores as an INTEGER
    again. The report must count that currency exactly, not trust the running total."""
    make((1, 100, "EUR"), (2, 748, "EUR"))
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
            "updated_at) VALUES (3, 1, ?, 'EUR', '2026-12-01', 'x', 'x')",
            (2**63 - 1,),
        )
        conn.execute("DELETE FROM invoice WHERE id = 3")
        conn.execute("UPDATE invoice SET status = 'PAID', paid_at = 'x' WHERE id = 1")
    conn.close()
    fast, exact = both(db_path)
    assert fast == exact == [("PAID", "EUR", 1, 100), ("PENDING", "EUR", 1, 748)]


def test_a_status_no_rule_knows_and_an_amount_that_is_no_whole_number_show_as_such(
    make: Callable[..., Path], db_path: Path
) -> None:
    """An invoice set by hand to a status no rule knows is in no partial index: the fast
    totals would have counted it as PAID. The report counts row by row instead, where
    it shows under its own status; an amount that is no whole number is counted apart,
    under its status marked so, and adds nothing to a sum."""
    make((1, 100, "EUR"), (2, 700, "EUR"), (3, 900, "EUR"))
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA ignore_check_constraints = 1")
    conn.execute("UPDATE invoice SET status = 'BOGUS' WHERE id = 2")
    conn.commit()
    conn.close()
    fast, exact = both(db_path)
    assert fast == exact == [("BOGUS", "EUR", 1, 700), ("PENDING", "EUR", 2, 1000)]
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA ignore_check_constraints = 1")
    conn.execute("UPDATE invoice SET amount = X'0102' WHERE id = 3")
    conn.commit()
    conn.close()
    assert both(db_path)[1] == [
        ("BOGUS", "EUR", 1, 700),
        ("PENDING", "EUR", 1, 100),
        ("PENDING" + queries.ODD_AMOUNT, "EUR", 1, 0),
    ]
    conn = sqlite3.connect(db_path)  # only known statuses left; one amount is text
    conn.execute("PRAGMA ignore_check_constraints = 1")
    conn.execute("UPDATE invoice SET status = 'PENDING', amount = 700 WHERE id = 2")
    conn.execute("UPDATE invoice SET amount = 'abc' WHERE id = 3")
    conn.commit()
    conn.close()
    fast, exact = both(db_path)
    assert (
        fast
        == exact
        == [
            ("PENDING", "EUR", 2, 800),
            ("PENDING" + queries.ODD_AMOUNT, "EUR", 1, 0),
        ]
    )
