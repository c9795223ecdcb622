"""A crash, then a pass a day and a half later, past the provider's key retention:
the charge that happened is found by look-up; the one that never left lapses and is
charged under a new key. Never a second charge."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.process.helpers import (
    age_attempts,
    age_provider_charges,
    antaeus,
    assert_charged_exactly_once,
)

pytestmark = pytest.mark.process
FORGETFUL = "sim://?key_retention_h=24&seed=1"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "antaeus.db"
    seeded = antaeus(path, "seed", "--customers", "40", "--seed", "5", "--as-of", "2026-12-01")
    assert seeded.returncode == 0, seeded.stderr
    return path


def first_pending(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (found,) = conn.execute(
            "SELECT min(i.id) FROM invoice i JOIN customer c ON c.id = i.customer_id "
            "WHERE i.status = 'PENDING' AND i.currency = c.currency AND i.amount > 0"
        ).fetchone()
    return int(found)


@pytest.mark.parametrize(
    ("failpoint", "outcome"),
    [
        ("after-provider-charge", "charged"),  # the provider charged; the answer was lost
        ("after-attempt-commit", "lapsed"),  # claimed and committed, never sent
    ],
)
def test_a_pass_36_hours_after_a_crash_looks_up_and_never_charges_twice(
    db: Path, failpoint: str, outcome: str
) -> None:
    invoice = first_pending(db)
    crashed = antaeus(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--batch-size",
        "1",
        "--provider",
        FORGETFUL,
        ANTAEUS_FAILPOINT=f"{failpoint}:{invoice}",
    )
    assert crashed.returncode == -9, crashed.stderr
    ledger = db.with_name("antaeus.provider.db")
    age_attempts(db, 36)
    age_provider_charges(ledger, 36)  # the simulator has forgotten every key by now
    done = antaeus(db, "bill", "--as-of", "2026-12-02", "--provider", FORGETFUL, "--json")
    assert done.returncode in (0, 1), done.stderr
    with sqlite3.connect(db) as conn:
        attempts = conn.execute(
            "SELECT attempt_no, outcome FROM payment_attempt WHERE invoice_id = ? "
            "ORDER BY attempt_no",
            (invoice,),
        ).fetchall()
    if outcome == "charged":
        assert attempts == [(1, "charged")]  # settled by look-up, not re-sent
    else:
        assert attempts == [(1, "lapsed"), (2, "charged")]  # a new key charged it
    assert assert_charged_exactly_once(db, ledger)["PAID"] >= 1
