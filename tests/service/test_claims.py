"""The set-based claim: its SQL prefilter agrees with the domain check, and a batch is
split exactly into what it claims and what the Python check judges."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.domain.guards import GUARDS_OFF
from antaeus_cli.domain.invoice import (
    NEVER_DECLINED,
    Invoice,
    InvoiceRow,
    InvoiceStatus,
    check_chargeable,
    idempotency_key,
)
from antaeus_cli.domain.money import MAX_CHARGE_MINOR
from antaeus_cli.errors import UnknownStatus
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store import claims, runs
from antaeus_cli.store.database import Store
from tests.conftest import ME
from tests.fakes import CHARGED, DECLINED, FakeProvider, days_on, dead, on

Sql = Callable[..., list[tuple[Any, ...]]]

VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, MAX_CHARGE_MINOR, MAX_CHARGE_MINOR + 1, -1]),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.sampled_from(["EUR", "USD", "JPY", "BHD", "HUF", "DEM", "eur", "EUR ", "XYZ", ""]),
    st.binary(max_size=4),
    st.just(b"EUR"),
    st.none(),
)


def _started(store: Store, due: date) -> int:
    """A bill run's id, for the attempts a test claims."""
    return runs.start_run(
        store,
        command="bill",
        clock=on(due),
        provider="x",
        me=ME,
        now=datetime.now(UTC),
        is_alive=dead,
    ).run_id


def _claim(
    conn: sqlite3.Connection, due: date, run_id: int, after: float, limit: int
) -> claims.ClaimedBatch | None:
    """bill's first walk, guards off, on `due`: the next batch after `after`."""
    return claims.claim_due(
        conn,
        claims.Due.BILL,
        days_on(due),
        after,
        limit,
        namespace="ns",
        run_id=run_id,
        command="bill",
        now=datetime.now(UTC),
        amount=GUARDS_OFF,
        latest=claims.FRESH,
    )


@settings(max_examples=300)
@given(
    amount=VALUES,
    currency=VALUES,
    customer_id=st.one_of(st.just(1), st.just(2), st.text(max_size=2), st.none()),
    customer_currency=VALUES,
    customer_ref=st.one_of(
        st.none(),
        st.text(max_size=8),
        st.sampled_from(["cus_123", "cus 1", "", " ", "\t", "cus_\u00e9", "x" * 255, "x" * 256]),
        st.integers(-(2**63), 2**63 - 1),
        st.binary(max_size=4),
    ),
)
def test_the_sql_prefilter_accepts_exactly_what_the_domain_check_accepts(
    amount: object,
    currency: object,
    customer_id: object,
    customer_currency: object,
    customer_ref: object,
) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE invoice (id INTEGER PRIMARY KEY, customer_id, amount, currency)")
    conn.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, currency, provider_ref)")
    conn.execute("INSERT INTO customer VALUES (1, ?, ?)", (customer_currency, customer_ref))
    conn.execute("INSERT INTO invoice VALUES (1, ?, ?, ?)", (customer_id, amount, currency))
    row = conn.execute(
        f"SELECT {claims.CHARGEABLE_SQL}, i.customer_id, i.amount, i.currency, c.currency, "
        "c.provider_ref FROM invoice i LEFT JOIN customer c ON c.id = i.customer_id"
    ).fetchone()
    conn.close()
    sql_says, *stored = row
    checked = check_chargeable(
        InvoiceRow(
            1,
            stored[0],
            stored[1],
            stored[2],
            stored[3],
            InvoiceStatus.PENDING,
            NEVER_DECLINED,
            customer_ref=stored[4],
        )
    )
    assert bool(sql_says) == isinstance(checked, Invoice), (stored, checked)


def test_a_batch_splits_into_claims_and_rows_for_the_python_check(
    make: Callable[..., Path], db_path: Path
) -> None:
    due = date(2026, 12, 1)
    make(
        SeedInvoice(1, 1, 1000, "EUR", due),
        SeedInvoice(2, 2, 0, "EUR", due),
        SeedInvoice(3, 3, 500, "XYZ", due),
        SeedInvoice(4, 4, 700, "USD", due),  # customer 4 is billed in EUR
        SeedInvoice(5, 5, 900, "EUR", due),
        SeedInvoice(6, 6, 900, "EUR", date(2027, 1, 1)),  # not due
        SeedInvoice(7, 7, 900, "EUR", due),
        customers=dict.fromkeys(range(1, 8), "EUR"),
    )
    store = Store.open(db_path)
    try:
        run_id = _started(store, due)
        with store.transaction() as conn:
            first = _claim(conn, due, run_id, 0, 4)
            assert first is not None
            assert [a.invoice.id for a in first.attempts] == [1]
            assert [r.id for r in first.others] == [2, 3, 4]
            assert first.upto == 4
            assert first.attempts[0].key == "ns-inv-1-1"
            second = _claim(conn, due, run_id, first.upto, 4)
            assert second is not None
            assert [a.invoice.id for a in second.attempts] == [5, 7]
            assert second.others == []
            assert _claim(conn, due, run_id, second.upto, 4) is None
            rows = conn.execute(
                "SELECT invoice_id, customer_id, attempt_no, amount, currency, from_status "
                "FROM payment_attempt ORDER BY invoice_id"
            ).fetchall()
        assert rows == [
            (1, 1, 1, 1000, "EUR", "PENDING"),
            (5, 5, 1, 900, "EUR", "PENDING"),
            (7, 7, 1, 900, "EUR", "PENDING"),
        ]
    finally:
        store.close()


def test_a_range_with_an_invoice_tried_before_reads_every_latest_attempt(
    make: Callable[..., Path], db_path: Path
) -> None:
    """A range none of whose invoices was ever tried is claimed without a probe per
    invoice; one that holds a tried invoice is probed invoice by invoice. An invoice set
    back to PENDING by hand after it was charged is left to the Python check, even when
    its attempt number was written by hand as text, which no unique constraint would
    catch if it were taken for a fresh invoice."""
    due = date(2026, 12, 1)
    make(
        *[SeedInvoice(i, i, 1000, "EUR", due) for i in range(1, 7)],
        customers=dict.fromkeys(range(1, 7), "EUR"),
    )
    store = Store.open(db_path)
    try:
        run_id = _started(store, due)
        stamp = datetime.now(UTC).isoformat()
        with store.transaction() as conn:
            for invoice_id, attempt_no in ((2, "one"), (3, 1)):
                conn.execute(
                    "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, "
                    "idempotency_key, run_id, command, amount, currency, from_status, "
                    "outcome, provider_calls, started_at, finished_at, settled_by_run_id, "
                    "period) VALUES (?, ?, ?, ?, ?, 'bill', 1000, 'EUR', 'PENDING', "
                    "'charged', 1, ?, ?, ?, '2026-12')",
                    (
                        invoice_id,
                        invoice_id,
                        attempt_no,
                        f"ns-inv-{invoice_id}-{attempt_no}",
                        run_id,
                        stamp,
                        stamp,
                        run_id,
                    ),
                )

            tried = _claim(conn, due, run_id, claims.BEFORE_FIRST, 3)
            assert tried is not None
            assert [(a.invoice.id, a.attempt_no, a.key) for a in tried.attempts] == [
                (1, 1, "ns-inv-1-1")
            ]
            assert [(r.id, r.charged_before) for r in tried.others] == [(2, True), (3, True)]
            fresh = _claim(conn, due, run_id, tried.upto, 3)
            assert fresh is not None
            assert [(a.invoice.id, a.key) for a in fresh.attempts] == [
                (4, "ns-inv-4-1"),
                (5, "ns-inv-5-1"),
                (6, "ns-inv-6-1"),
            ]
            assert fresh.others == []
    finally:
        store.close()


@given(
    namespace=st.text(alphabet="abcdef0123456789", min_size=1, max_size=16),
    invoice_id=st.integers(1, 2**63 - 1),
    attempt_no=st.integers(1, 10_000),
)
def test_the_claim_sql_builds_the_key_exactly_as_the_domain_does(
    namespace: str, invoice_id: int, attempt_no: int
) -> None:
    """The key has one definition (domain.invoice.idempotency_key); the claim builds the
    same text in SQL for speed. This pins the two together."""
    conn = sqlite3.connect(":memory:")
    (built,) = conn.execute(
        "SELECT :ns || '-inv-' || :id || '-' || :no",
        {"ns": namespace, "id": invoice_id, "no": attempt_no},
    ).fetchone()
    conn.close()
    assert built == idempotency_key(namespace, invoice_id, attempt_no)


def test_every_key_a_pass_claims_is_the_domains_key(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql
) -> None:
    """What the provider is sent, for first attempts and retries, large ids included: the
    expression above is the one the claim's SQL uses."""
    ids = [1, 123_456_789_012, 2**63 - 1]
    make(*[(i, 100, "EUR") for i in ids])
    provider = FakeProvider(script={i: [DECLINED, DECLINED, CHARGED] for i in ids})
    bill(provider)
    bill(provider, command=Command.RETRY_FAILED, as_of=date(2026, 12, 2))
    bill(provider, command=Command.RETRY_FAILED, as_of=date(2026, 12, 4))
    ((namespace,),) = sql("SELECT value FROM meta WHERE key = 'namespace'")
    expected = [(i, idempotency_key(namespace, i, n)) for n in (1, 2, 3) for i in ids]
    assert provider.calls == expected
    assert sql("SELECT invoice_id, idempotency_key FROM payment_attempt ORDER BY id") == expected


def test_invoices_named_with_a_status_no_rule_knows_are_refused_by_id_and_stored_value(
    make: Callable[..., Path], db_path: Path
) -> None:
    """An invoice named by id (--invoice, a dry run's named word) whose status was set by
    hand to one no rule knows is refused, naming its id and the value as stored; the
    known ones are read as ever."""
    make(*[(i, 100, "EUR") for i in range(1, 4)])
    store = Store.open(db_path)
    try:
        store.conn.execute("PRAGMA ignore_check_constraints = 1")
        store.conn.execute("UPDATE invoice SET status = 'BOGUS', customer_id = 3 WHERE id = 2")
        store.conn.execute("UPDATE invoice SET status = 7 WHERE id = 3")
        with store.view() as view:
            assert list(view.invoices_by_id([1], claims.Guards())) == [1]
            with pytest.raises(UnknownStatus) as refused:
                view.invoices_by_id([1, 2, 3], claims.Guards())
    finally:
        store.close()
    assert str(refused.value).startswith(
        "invoice 2 has the status 'BOGUS'; invoice 3 has the status '7', which antaeus does "
        "not know (set by hand?): set it by hand to one of PENDING, PROCESSING, PAID, "
        "FAILED, NEEDS_OPERATOR, UNCOLLECTIBLE, AWAITING_CUSTOMER, VOID; nothing was charged"
    )
