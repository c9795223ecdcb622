"""A few crash trials in the default suite; `make chaos` runs sixty."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import chaos

pytestmark = pytest.mark.process


def test_crash_trials_leave_the_books_exact(tmp_path: Path) -> None:
    figures = chaos.run(trials=4, base_seed=7, root=tmp_path)
    assert figures.trials == 4
    assert figures.killed_trials == 4
    assert figures.failures == 0, figures.render()


def test_the_audit_notices_a_double_charge(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "trial" / "antaeus.db"
    db.parent.mkdir()
    assert (
        chaos.cli(
            db, "seed", "--customers", "12", "--seed", "1", "--as-of", "2026-12-01"
        ).returncode
        == 0
    )
    assert chaos.cli(db, "bill", "--as-of", "2026-12-01").returncode in (0, 1)
    ledger = db.with_name("antaeus.provider.db")
    conn = sqlite3.connect(ledger)
    conn.execute(
        "INSERT INTO charge (idempotency_key, invoice_id, customer_id, amount, currency, outcome, "
        "created_at) SELECT idempotency_key || '-again', invoice_id, customer_id, amount, "
        "currency, outcome, created_at FROM charge WHERE outcome = 'charged' LIMIT 1"
    )
    conn.commit()
    conn.close()
    figures = chaos.audit(db, ledger)
    assert figures.double_charges == 1
    assert figures.total_mismatches == 1


def test_crash_trials_against_the_stripe_shaped_server_leave_the_books_exact(
    tmp_path: Path,
) -> None:
    from tests.chaos_stripe import run_stripe_trial

    figures = chaos.run(trials=2, base_seed=11, root=tmp_path, trial=run_stripe_trial)
    assert figures.trials == 2
    assert figures.failures == 0, figures.render()
