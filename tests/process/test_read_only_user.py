"""A monitoring user who may read the database but write neither it, its -wal and -shm
files, nor its directory runs `report`, `check` and the dry runs through the real CLI:
they answer, and every file is left as it was, bytes and times."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.process.helpers import antaeus
from tests.process.unprivileged import Reader, reader

pytestmark = pytest.mark.process

AS_OF = "2026-12-01"


@pytest.fixture(scope="module")
def monitoring() -> Iterator[Reader]:
    yield from reader()


@pytest.fixture
def data(monitoring: Reader, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A folder holding a demo database after one pass; the reading user may look in
    it but not write in it, and may read the database but not write it."""
    folder = monitoring.home / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir()
    db = folder / "antaeus.db"
    done = antaeus(db, "seed", "--customers", "40", "--seed", "2", "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr
    done = antaeus(db, "bill", "--as-of", AS_OF, "--provider", "sim://?seed=1")
    assert done.returncode in (0, 1), done.stderr
    for path in folder.iterdir():  # made 0600: the operator lets the reader read it
        path.chmod(0o444)
    folder.chmod(0o555)
    yield db
    folder.chmod(0o755)


def files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time, and the folder's time, which moves
    when a file is made or removed in it."""
    found = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}
    return {**found, ".": (b"", folder.stat().st_mtime_ns)}


def finished(db: Path) -> datetime:
    with closing(sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)) as conn:
        (stamp,) = conn.execute("SELECT max(finished_at) FROM billing_run").fetchone()
    return datetime.fromisoformat(stamp)


def test_report_check_and_the_dry_runs_answer_and_leave_every_file_as_it_was(
    monitoring: Reader, data: Path
) -> None:
    before = files(data.parent)
    metrics = monitoring.writable_folder("metrics") / "antaeus.prom"

    shown = monitoring.antaeus(data, "report")
    assert shown.returncode == 0, shown.stderr
    assert "invoices by status and currency" in shown.stdout
    shown = monitoring.antaeus(data, "report", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["needs_operator_total"] > 0

    checked = monitoring.antaeus(data, "check")  # invoices held: a warning
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ANTAEUS WARNING - ")
    assert checked.stderr == ""
    checked = monitoring.antaeus(data, "check", "--json", "--metrics-file", str(metrics))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["status"] == "WARNING"
    assert "antaeus_check_status 1.0" in metrics.read_text()
    unwritable = data.parent / "antaeus.prom"  # beside the database: the level stands
    checked = monitoring.antaeus(data, "check", "--metrics-file", str(unwritable))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ANTAEUS WARNING - ")
    assert checked.stderr.startswith(f"antaeus: error: cannot write --metrics-file '{unwritable}'")
    assert len(checked.stderr.splitlines()) == 1
    late = finished(data) + timedelta(hours=7)  # the dead man's switch
    checked = monitoring.antaeus(data, "check", "--as-of", late.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ANTAEUS CRITICAL - the last completed bill pass")

    for command in ("bill", "retry-failed"):
        preview = monitoring.antaeus(data, command, "--dry-run", "--as-of", AS_OF)
        assert preview.returncode == 0, preview.stderr
        assert "nothing was changed" in preview.stdout

    assert files(data.parent) == before


@pytest.mark.parametrize("side_files", [0o444, 0o400], ids=["readable", "private"])
def test_while_a_pass_holds_the_database_its_wal_is_read_if_the_reader_may(
    monitoring: Reader, data: Path, side_files: int
) -> None:
    if not monitoring.is_another_user:
        pytest.skip("a pass that may write beside a reader that may not takes two users: root")
    writer = sqlite3.connect(data, isolation_level=None)  # root: permissions do not bind it
    try:
        writer.execute(
            "INSERT INTO billing_run (command, as_of, provider, host, pid, started_at, "
            "finished_at, status, stop_reason) SELECT command, as_of, provider, host, pid, "
            "finished_at, finished_at, 'failed', 'stopped by hand' FROM billing_run"
        )  # committed to the -wal file only, while this connection stays open
        wal, shm = (data.with_name(data.name + end) for end in ("-wal", "-shm"))
        wal.chmod(side_files)
        shm.chmod(side_files)
        before = files(data.parent)

        checked = monitoring.antaeus(data, "check")
        shown = monitoring.antaeus(data, "report", "--section", "runs")

        assert files(data.parent) == before
    finally:
        writer.close()
    if side_files & 0o004:
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert "the latest bill pass did not complete" in checked.stdout
        assert "stopped by hand" in checked.stdout
        assert shown.returncode == 0, shown.stderr
        assert "stopped by hand" in shown.stdout
    else:
        assert checked.returncode == 3, checked.stdout + checked.stderr
        assert checked.stdout.startswith("ANTAEUS UNKNOWN - cannot read database ")
        assert "-wal and -shm files" in checked.stdout
        assert shown.returncode == 5, shown.stdout + shown.stderr
        assert shown.stderr.startswith("antaeus: error: cannot read database ")
        assert len(shown.stderr.splitlines()) == 1


@pytest.mark.parametrize("closed", ["file", "directory"])
def test_a_database_the_reader_cannot_read_is_one_line_and_unknown_to_check(
    monitoring: Reader, data: Path, closed: str
) -> None:
    target, mode = (data, 0o000) if closed == "file" else (data.parent, 0o000)
    metrics = monitoring.writable_folder(f"metrics-{closed}") / "antaeus.prom"
    target.chmod(mode)
    try:
        shown = monitoring.antaeus(data, "report")
        checked = monitoring.antaeus(data, "check", "--metrics-file", str(metrics))
    finally:
        target.chmod(0o444 if closed == "file" else 0o555)
    assert shown.returncode == 5, shown.stdout + shown.stderr
    assert shown.stderr.startswith(f"antaeus: error: cannot read database '{data}'")
    assert "needs read permission" in shown.stderr
    assert len(shown.stderr.splitlines()) == 1
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"ANTAEUS UNKNOWN - cannot read database '{data}'")
    assert "antaeus_check_status 3.0" in metrics.read_text()
