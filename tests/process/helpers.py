"""Running the real CLI as a subprocess, and checking the books against the provider's."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.process


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTAEUS_")}
    env.update({"NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **extra})
    return env


def command(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "antaeus_cli", "--db", str(db), *args]


def antaeus(
    db: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(db, *args),
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(db: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(db, *args),
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(db: Path, query: str, at_least: int, timeout: float = 30.0) -> None:
    """Poll the database (read-only, as an outsider) until `query` counts enough rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            try:
                if conn.execute(query).fetchone()[0] >= at_least:
                    return
            finally:
                conn.close()
        except sqlite3.OperationalError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {query!r} >= {at_least}")


def settle(db: Path, *args: str, tries: int = 5, **env: str) -> subprocess.CompletedProcess[str]:
    """Run recovery passes until one completes (exit 0 or 1) with no attempt left open;
    the first pass that completed is returned.
    A pass may complete with an attempt still open when the simulated network failed
    every look-up of its key in that pass (its draws depend on the database's random
    namespace): the next pass looks it up again, as cron's next run would."""
    first: subprocess.CompletedProcess[str] | None = None  # the first pass that completed
    for _ in range(tries):
        done = antaeus(db, *args, **env)
        if done.returncode in (0, 1):
            first = first or done
            if not _open_attempts(db):
                return first
    raise AssertionError(f"no recovery pass settled everything: {done.returncode} {done.stderr}")


def _open_attempts(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL"
            ).fetchone()[0]
        )


def assert_charged_exactly_once(db: Path, ledger: Path) -> Counter[str]:
    """Against the provider's own books: every PAID invoice charged exactly once,
    nothing else charged at all, and no attempt left open."""
    ours = sqlite3.connect(db)
    theirs = sqlite3.connect(ledger)
    try:
        charged = Counter(
            invoice_id
            for (invoice_id,) in theirs.execute(
                "SELECT invoice_id FROM charge WHERE outcome = 'charged'"
            )
        )
        attempted = {i for (i,) in ours.execute("SELECT DISTINCT invoice_id FROM payment_attempt")}
        status = dict(ours.execute("SELECT id, status FROM invoice"))
        for invoice_id, n in charged.items():
            assert n == 1, f"invoice {invoice_id} was charged {n} times"
            assert status[invoice_id] == "PAID", (
                f"invoice {invoice_id} charged but {status[invoice_id]}"
            )
        for invoice_id in attempted:
            if status[invoice_id] == "PAID":
                assert charged[invoice_id] == 1, f"invoice {invoice_id} PAID but never charged"
        keys_ours = {
            k
            for (k,) in ours.execute(
                "SELECT idempotency_key FROM payment_attempt WHERE outcome = 'charged'"
            )
        }
        keys_theirs = {
            k
            for (k,) in theirs.execute(
                "SELECT idempotency_key FROM charge WHERE outcome = 'charged'"
            )
        }
        assert keys_ours == keys_theirs
        open_attempts = ours.execute(
            "SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL"
        ).fetchone()[0]
        assert open_attempts == 0
        assert ours.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert ours.execute("PRAGMA foreign_key_check").fetchall() == []
        return Counter(status.values())
    finally:
        ours.close()
        theirs.close()


def age_attempts(db: Path, hours: float) -> None:
    """Make every attempt look `hours` older, as if the next pass ran that much later.

    What was requested is append-only, so the guard is lifted for the edit and put
    back as it was: this stands in for time passing, not for anything a user does."""
    conn = sqlite3.connect(db)
    try:
        (guard,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'payment_attempt_request_is_final'"
        ).fetchone()
        rows = conn.execute("SELECT id, started_at FROM payment_attempt").fetchall()
        with conn:
            conn.execute("DROP TRIGGER payment_attempt_request_is_final")
            conn.executemany(
                "UPDATE payment_attempt SET started_at = ? WHERE id = ?",
                [(_earlier(stamp, hours), row_id) for row_id, stamp in rows],
            )
            conn.execute(guard)
    finally:
        conn.close()


def age_provider_charges(ledger: Path, hours: float) -> None:
    """The simulated provider's side of `age_attempts`: its charges, that much older."""
    conn = sqlite3.connect(ledger)
    try:
        rows = conn.execute("SELECT id, created_at FROM charge").fetchall()
        with conn:
            conn.executemany(
                "UPDATE charge SET created_at = ? WHERE id = ?",
                [(_earlier(stamp, hours), row_id) for row_id, stamp in rows],
            )
    finally:
        conn.close()


def _earlier(stamp: str, hours: float) -> str:
    return (datetime.fromisoformat(stamp) - timedelta(hours=hours)).isoformat()
