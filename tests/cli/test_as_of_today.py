"""`--as-of` in its date form for a real pass, on the real clock: today's date has
begun somewhere (in UTC, at least), so a pass runs as of it; a date that has begun
nowhere yet (not even at UTC+14, where every date begins first) is refused with exit
2 and nothing charged. Tomorrow is such a date until 10:00 UTC today, when it begins
at UTC+14."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode

FURTHEST_AHEAD = timedelta(hours=14)  # Kiritimati: where every date begins first


def run(runner: CliRunner, db: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


def seeded(runner: CliRunner, db: Path, day: date) -> Path:
    """Invoices due on the 1st of `day`'s month."""
    code, _, err = run(runner, db, "seed", "--customers", "6", "--seed", "4", "--as-of", str(day))
    assert code == ExitCode.OK, err
    return db


def attempts(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM payment_attempt").fetchone()[0])


def away_from_a_date_beginning() -> datetime:
    """Now, but not within a few seconds of 10:00 UTC, when tomorrow begins at UTC+14:
    a test must not straddle the instant its answer changes."""
    while True:
        now = datetime.now(UTC)
        begins = now.replace(hour=10, minute=0, second=0, microsecond=0)
        if abs((now - begins).total_seconds()) > 5:
            return now
        time.sleep(1)


def away_from_a_date_change() -> datetime:
    """Now, not within a few seconds of a date beginning in UTC or at UTC+14."""
    while True:
        now = away_from_a_date_beginning()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if 5 < (now - midnight).total_seconds() < 86_400 - 5:
            return now
        time.sleep(1)


def test_the_date_form_charges_nobody_before_their_own_date_has_begun(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A date begun somewhere is accepted, but a customer whose own date is still the day
    before is not charged as of it: the date form gives every customer one date, and a
    pass that charges caps it at each customer's date now."""
    now = away_from_a_date_change()
    if now.hour >= 10:  # tomorrow has begun at UTC+14, not in UTC
        as_of, behind = now.date() + timedelta(days=1), "UTC"
    else:  # today has begun in UTC, not yet at UTC-12 (until noon UTC)
        as_of, behind = now.date(), "Etc/GMT+12"
    db = tmp_path / "antaeus.db"
    code, _, err = run(
        runner, db, "seed", "--customers", "2", "--invoices-per-customer", "1",
        "--seed", "4", "--as-of", str(now.date()),
    )  # fmt: skip
    assert code == ExitCode.OK, err
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE customer SET timezone = 'Pacific/Kiritimati' WHERE id = 1")
        conn.execute("UPDATE customer SET timezone = ? WHERE id = 2", (behind,))
        conn.execute("UPDATE invoice SET due_date = ?", (as_of.isoformat(),))
    # the dry run of a moment a real pass accepts says what that pass does: no look-ahead
    code, out, err = run(runner, db, "bill", "--as-of", as_of.isoformat(), "--dry-run", "--json")
    assert code == ExitCode.OK, err
    assert {item["customer_id"] for item in json.loads(out)["invoices"]} == {1}, out
    code, out, err = run(runner, db, "bill", "--as-of", as_of.isoformat(), "--json")
    assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), err
    with sqlite3.connect(db) as conn:
        charged = {row[0] for row in conn.execute("SELECT customer_id FROM payment_attempt")}
        status = dict(conn.execute("SELECT customer_id, status FROM invoice"))
    assert charged == {1}, out
    assert status[2] == "PENDING"


def test_a_real_pass_runs_as_of_todays_date(runner: CliRunner, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    db = seeded(runner, tmp_path / "antaeus.db", today)
    code, out, err = run(runner, db, "bill", "--as-of", today.isoformat(), "--json")
    assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), err
    result = json.loads(out)
    assert result["status"] == "completed"
    assert result["as_of"] == today.isoformat()
    assert result["counts"]["paid"] > 0


def test_a_date_begun_nowhere_yet_is_refused_and_tomorrow_once_it_has_begun_is_not(
    runner: CliRunner, tmp_path: Path
) -> None:
    now = away_from_a_date_beginning()
    db = seeded(runner, tmp_path / "antaeus.db", now.date())
    unbegun = (now + FURTHEST_AHEAD).date() + timedelta(days=1)
    code, _, err = run(runner, db, "bill", "--as-of", unbegun.isoformat())
    assert code == ExitCode.USAGE, err
    assert "is later than now" in err
    assert attempts(db) == 0

    tomorrow = now.date() + timedelta(days=1)
    begun_at_kiritimati = (now + FURTHEST_AHEAD).date() >= tomorrow  # from 10:00 UTC
    code, _, err = run(runner, db, "bill", "--as-of", tomorrow.isoformat())
    if begun_at_kiritimati:
        assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), err
    else:
        assert code == ExitCode.USAGE, err
        assert "is later than now" in err
        assert attempts(db) == 0
