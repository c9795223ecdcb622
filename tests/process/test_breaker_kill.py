"""A pass killed right after the breaker tripped: the declines it counted were handed
back in the transaction that recorded the trip, so no customer hears of them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.process.helpers import antaeus

pytestmark = pytest.mark.process


def test_a_kill_after_the_trip_leaves_nothing_to_hand_back(tmp_path: Path) -> None:
    """Killed after each commit in turn, until one holds the tripping answer: from that
    commit on, every decline the breaker counted is handed back, its notice withdrawn."""
    for batch in range(1, 9):
        db = tmp_path / f"k{batch}" / "antaeus.db"
        db.parent.mkdir()
        seeded = antaeus(db, "seed", "--customers", "12", "--seed", "1", "--as-of", "2026-12-01")
        assert seeded.returncode == 0, seeded.stderr
        killed = antaeus(
            db,
            "bill",
            "--as-of",
            "2026-12-02",
            "--batch-size",
            "2",
            "--breaker-rate",
            "0.2",  # trips on the first decline
            "--breaker-window",
            "4",
            "--provider",
            "sim://?hard_decline_rate=1&seed=1",
            ANTAEUS_FAILPOINT=f"between-batches:{batch}",
        )
        assert killed.returncode == -9, killed.stdout + killed.stderr
        with sqlite3.connect(db) as conn:
            (declined,) = conn.execute(
                "SELECT count(*) FROM payment_attempt WHERE outcome = 'declined_hard'"
            ).fetchone()
            if not declined:  # the trip is not committed yet: as if it never happened
                continue
            assert conn.execute(
                "SELECT DISTINCT i.status, i.decline_count FROM invoice i "
                "JOIN payment_attempt a ON a.invoice_id = i.id WHERE a.outcome = 'declined_hard'"
            ).fetchall() == [("PENDING", 0)]
            assert conn.execute(
                "SELECT DISTINCT n.status FROM notification n "
                "JOIN payment_attempt a ON a.id = n.attempt_id WHERE a.outcome = 'declined_hard'"
            ).fetchall() == [("withdrawn",)]
        return
    pytest.fail("no commit held the tripping answer")
