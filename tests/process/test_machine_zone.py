"""A machine zone further ahead of UTC than any place never bills a day early.

TZ=XXX-24 puts the machine's date a day ahead of UTC. Until 10:00 UTC that date has
begun nowhere (UTC+14 is where every date begins first), and a pass that would read
it is refused; from 10:00 UTC it has begun at UTC+14, and a pass runs, but charges
nobody before their own date. `tests/domain/test_clock.py` holds both sides of that
instant with an injected clock; here the real clock decides which side the run is on.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.process.helpers import antaeus

pytestmark = pytest.mark.process

FURTHEST_AHEAD = timedelta(hours=14)


def away_from_ten_utc() -> datetime:
    """Now, not within half a minute of 10:00 UTC, when the machine's date (a day ahead
    of UTC) begins at UTC+14: the test must not straddle the instant its answer changes."""
    while True:
        now = datetime.now(UTC)
        begins = now.replace(hour=10, minute=0, second=0, microsecond=0)
        if abs((now - begins).total_seconds()) > 30:
            return now
        time.sleep(1)


def test_a_machine_tz_past_utc_plus_14_never_charges_a_day_early(tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    assert antaeus(db, "seed", "--customers", "3", "--seed", "1").returncode == 0
    now = away_from_ten_utc()
    machine_date = (now + timedelta(hours=24)).date()
    begun_somewhere = machine_date <= (now + FURTHEST_AHEAD).date()
    run = antaeus(db, "bill", "--provider", "sim://", TZ="XXX-24")
    with sqlite3.connect(db) as conn:
        charged = conn.execute(
            "SELECT i.due_date, c.timezone FROM payment_attempt a "
            "JOIN invoice i ON i.id = a.invoice_id JOIN customer c ON c.id = i.customer_id"
        ).fetchall()
    if begun_somewhere:
        assert run.returncode in (0, 1), run.stdout + run.stderr
        assert charged, run.stdout  # the seeded invoices are due today or before
        for due, zone in charged:  # nobody charged before their own date has begun
            assert due <= datetime.now(ZoneInfo(zone)).date().isoformat(), (due, zone)
    else:
        assert run.returncode == 2, run.stdout + run.stderr
        assert "a date that has begun nowhere yet" in run.stderr
        assert charged == []
        with sqlite3.connect(db) as conn:  # billing stopped on a setting: the run says why
            ((run_id, status, reason),) = conn.execute(
                "SELECT id, status, stop_reason FROM billing_run"
            ).fetchall()
            summaries = conn.execute(
                "SELECT run_id FROM notification WHERE kind = 'run_summary'"
            ).fetchall()
        assert status == "failed"
        assert reason.startswith("refused before it began: ")
        assert "a date that has begun nowhere yet" in reason
        assert summaries == [(run_id,)]
    looked = antaeus(db, "bill", "--provider", "sim://", "--dry-run", TZ="XXX-24")
    assert looked.returncode == 0, looked.stderr
