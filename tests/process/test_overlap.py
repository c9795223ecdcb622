"""Overlapping passes on one database: one does the work, the others step aside."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.process.helpers import antaeus, assert_charged_exactly_once, start

pytestmark = pytest.mark.process


def test_three_bills_and_a_retry_at_once_never_double_charge(tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    seeded = antaeus(db, "seed", "--customers", "150", "--seed", "9", "--as-of", "2026-12-01")
    assert seeded.returncode == 0, seeded.stderr
    # ~130 due invoices at 8 x 100 ms keep the winner busy for well over a second,
    # long after the other three have started: they must find the lock held.
    spec = "sim://?latency_ms=100&network_error_rate=0.1&seed=4"
    common = ("--as-of", "2026-12-01", "--provider", spec, "--backoff-ms", "0")
    procs = [start(db, "bill", *common) for _ in range(3)]
    procs.append(start(db, "retry-failed", *common))
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code in (0, 1, 4), err
        assert "Traceback" not in err
        assert "database is locked" not in err
        if code == 4:
            assert err.startswith("antaeus: error: another pass holds the lock"), err
    assert any(code in (0, 1) for code, _, _ in results)
    assert sum(code == 4 for code, _, _ in results) >= 2  # the long bill overlapped the rest
    conn = sqlite3.connect(db)
    attempts = conn.execute(
        "SELECT invoice_id, count(*) FROM payment_attempt GROUP BY invoice_id HAVING count(*) > 1"
    ).fetchall()
    pending = conn.execute("SELECT count(*) FROM invoice WHERE status = 'PENDING'").fetchone()
    conn.close()
    assert attempts == []  # every due invoice was claimed once, by one pass
    if any(code in (0, 1) for code, _, _ in results[:3]):
        assert pending == (0,)  # a bill that completed left nothing due behind
    assert_charged_exactly_once(db, db.with_name("antaeus.provider.db"))
