"""What only a real process shows: SIGKILL mid-pass, SIGTERM, and the next run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.process.helpers import (
    antaeus,
    assert_charged_exactly_once,
    settle,
    start,
    wait_for,
)

pytestmark = pytest.mark.process

FLAKY_NETWORK = "sim://?network_error_rate=0.2&seed=3"
NO_WAIT = ("--backoff-ms", "0")  # retries still happen; tests just do not sleep between them


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "antaeus.db"
    seeded = antaeus(path, "seed", "--customers", "120", "--seed", "5", "--as-of", "2026-12-01")
    assert seeded.returncode == 0, seeded.stderr
    return path


def ledger(db: Path) -> Path:
    return db.with_name("antaeus.provider.db")


def test_sigkill_mid_pass_then_rerun_charges_every_paid_invoice_once(db: Path) -> None:
    # 120 invoices at 4 x 40 ms take over a second: the kill lands mid-pass.
    slow = "sim://?latency_ms=40&network_error_rate=0.2&seed=3"
    proc = start(
        db, "bill", "--as-of", "2026-12-01", "--concurrency", "4", "--provider", slow, *NO_WAIT
    )
    wait_for(db, "SELECT count(*) FROM payment_attempt WHERE outcome = 'charged'", 10)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    done = settle(db, "bill", "--as-of", "2026-12-01", "--provider", FLAKY_NETWORK, *NO_WAIT)
    assert "ended without finishing" in done.stderr
    statuses = assert_charged_exactly_once(db, ledger(db))
    assert statuses["PENDING"] == 0
    assert statuses["PROCESSING"] == 0


@pytest.mark.parametrize(
    "failpoint",
    [
        "after-attempt-commit:51",
        "in-provider-call:51",
        "after-provider-charge:51",
        "between-batches:2",
    ],
)
def test_a_hard_crash_at_each_seam_is_reconciled(db: Path, failpoint: str) -> None:
    crashed = antaeus(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--batch-size",
        "25",
        "--provider",
        FLAKY_NETWORK,
        *NO_WAIT,
        ANTAEUS_FAILPOINT=failpoint,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    settle(db, "bill", "--as-of", "2026-12-01", "--provider", FLAKY_NETWORK, *NO_WAIT)
    statuses = assert_charged_exactly_once(db, ledger(db))
    assert statuses["PENDING"] == 0


def test_the_module_entry_point_and_version(tmp_path: Path) -> None:
    done = antaeus(tmp_path / "x.db", "--version")
    assert done.returncode == 0
    assert done.stdout.startswith("antaeus ")
