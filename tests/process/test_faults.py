"""Outages, signals and storage faults, each through the real CLI process."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process.helpers import (
    antaeus,
    assert_charged_exactly_once,
    cli_env,
    command,
    start,
    wait_for,
)

pytestmark = pytest.mark.process

NO_WAIT = ("--backoff-ms", "0")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "antaeus.db"
    seeded = antaeus(path, "seed", "--customers", "80", "--seed", "2", "--as-of", "2026-12-01")
    assert seeded.returncode == 0, seeded.stderr
    return path


def ledger(db: Path) -> Path:
    return db.with_name("antaeus.provider.db")


def counts(db: Path, query: str) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute(query).fetchall())


def test_a_full_outage_stops_after_k_and_burns_no_dunning_step(db: Path) -> None:
    down = antaeus(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--provider",
        "sim://?network_error_rate=1&seed=1",
        "--outage-threshold",
        "4",
        *NO_WAIT,
        "--json",
    )
    assert down.returncode == 3, down.stderr
    result = json.loads(down.stdout)
    assert result["status"] == "stopped_outage"
    assert "4 invoices in a row" in result["stop_reason"]
    statuses = counts(
        db, "SELECT status, count(*) FROM invoice WHERE due_date = '2026-12-01' GROUP BY status"
    )
    assert "FAILED" not in statuses
    assert "UNCOLLECTIBLE" not in statuses
    assert statuses["PROCESSING"] == 4  # unknown: replayed next time, never re-keyed
    assert counts(db, "SELECT 'declines', sum(decline_count) FROM invoice") == {"declines": 0}
    back = antaeus(db, "bill", "--as-of", "2026-12-01", "--provider", "sim://?seed=1", *NO_WAIT)
    assert back.returncode in (0, 1), back.stderr
    assert assert_charged_exactly_once(db, ledger(db))["PENDING"] == 0


def test_a_flaky_provider_still_completes_and_settles_every_outcome(db: Path) -> None:
    flaky = antaeus(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--provider",
        "sim://?network_error_rate=0.3&seed=5",
        *NO_WAIT,
        "--json",
    )
    assert flaky.returncode in (0, 1), flaky.stderr
    result = json.loads(flaky.stdout)
    assert result["status"] == "completed"
    assert result["counts"]["network_retries"] > 0
    assert result["unresolved_attempts"] == 0
    assert assert_charged_exactly_once(db, ledger(db))["PROCESSING"] == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_the_pass_within_seconds(db: Path, sig: signal.Signals) -> None:
    proc = start(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--concurrency",
        "4",
        "--provider",
        "sim://?latency_ms=200&seed=3",
    )
    wait_for(db, "SELECT count(*) FROM payment_attempt WHERE outcome = 'charged'", 4)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    runs = json.loads(antaeus(db, "report", "--format", "json").stdout)["runs"]
    assert runs[0]["status"] == "interrupted"
    assert sig.name in runs[0]["stop_reason"]
    open_after = counts(db, "SELECT outcome, count(*) FROM payment_attempt GROUP BY outcome")
    assert open_after.get("started", 0) == 0  # settled or handed back, none left hanging
    done = antaeus(db, "bill", "--as-of", "2026-12-01", "--provider", "sim://?seed=3")
    assert done.returncode in (0, 1), done.stderr
    assert assert_charged_exactly_once(db, ledger(db))["PENDING"] == 0


def test_a_signal_ends_a_pass_within_seconds_when_every_request_takes_half_a_minute(
    db: Path,
) -> None:
    """The simulated provider takes 30 s a request. The requests on their way when
    SIGTERM comes are cut after the grace a request in flight gets: they may have
    reached the provider, so their attempts stay open, and the next pass looks each up
    before it sends anything again."""
    proc = start(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--concurrency",
        "4",
        "--outage-threshold",
        "2",  # requests the stop cut are no outage, however many in a row
        "--provider",
        "sim://?latency_ms=30000&seed=3",
    )
    wait_for(db, "SELECT count(*) FROM payment_attempt", 4)
    time.sleep(0.5)  # the four requests are on their way
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 3, err
    outcomes = counts(db, "SELECT outcome, count(*) FROM payment_attempt GROUP BY outcome")
    assert outcomes["unknown"] == 4  # in flight: in doubt
    assert set(outcomes) == {"unknown", "abandoned"}  # the rest of the claim never left
    runs = json.loads(antaeus(db, "report", "--format", "json").stdout)["runs"]
    assert runs[0]["status"] == "interrupted"
    done = antaeus(db, "bill", "--as-of", "2026-12-01", "--provider", "sim://?seed=3")
    assert done.returncode in (0, 1), done.stderr
    assert assert_charged_exactly_once(db, ledger(db))["PENDING"] == 0


def _without_root_powers() -> list[str]:
    """File permissions bind root only once it gives up CAP_DAC_OVERRIDE."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without util-linux setpriv: permissions cannot bind")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def _as_user(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_without_root_powers(), *command(db, *args)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextlib.contextmanager
def _mode(path: Path, mode: int) -> Iterator[None]:
    before = path.stat().st_mode & 0o777
    path.chmod(mode)
    try:
        yield
    finally:
        path.chmod(before)


def _snapshot(folder: Path) -> dict[str, bytes]:
    """The databases' bytes, and their WAL contents. SQLite may create an empty WAL
    and a shared-memory index just to open a WAL database; those hold no data."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    return {n: b for n, b in files.items() if not n.endswith("-shm") and (b or "-wal" not in n)}


@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_read_only_database_is_refused_and_left_as_it_was(db: Path, what: str) -> None:
    before = _snapshot(db.parent)
    target, mode = (db, 0o444) if what == "file" else (db.parent, 0o555)
    with _mode(target, mode):
        done = _as_user(db, "bill", "--as-of", "2026-12-01")
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("antaeus: error: database")
    assert "read-only" in done.stderr or "cannot read or write" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _snapshot(db.parent) == before
    assert antaeus(db, "bill", "--as-of", "2026-12-01").returncode in (0, 1)


def test_a_writer_that_outlasts_the_busy_timeout_gives_exit_4(db: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(8)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        done = antaeus(db, "bill", "--as-of", "2026-12-01")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 4, done.stderr
    assert "busy" in done.stderr
    assert "Traceback" not in done.stderr
    assert 4.5 < waited < 8
    assert antaeus(db, "bill", "--as-of", "2026-12-01").returncode in (0, 1)
    assert assert_charged_exactly_once(db, ledger(db))["PENDING"] == 0


def test_a_disk_that_fills_up_mid_pass_loses_nothing(db: Path) -> None:
    limit = db.stat().st_size + 48 * 1024

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run(
        command(db, "bill", "--as-of", "2026-12-01", "--batch-size", "10"),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=small_disk,
    )
    assert full.returncode == 5, full.stderr
    assert full.stderr.splitlines()[-1].startswith("antaeus: error: ")
    assert "ulimit" in full.stderr or "space" in full.stderr
    assert "Traceback" not in full.stderr
    mid = counts(db, "SELECT status, count(*) FROM invoice GROUP BY status")
    assert mid.get("PAID", 0) > 0  # it really stopped mid-pass
    again = antaeus(db, "bill", "--as-of", "2026-12-01")
    assert again.returncode in (0, 1), again.stderr
    assert assert_charged_exactly_once(db, ledger(db))["PENDING"] == 0
