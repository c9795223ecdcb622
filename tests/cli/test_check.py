"""`antaeus check` as a monitoring system runs it: the Nagios exit codes, one line
first, JSON, the metrics file; read-only."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from tests.cli.test_cli import run
from tests.cli.test_upkeep import old_database

AS_OF = "2026-12-01"


UNKNOWN = 3  # the Nagios convention


def metrics(path: Path) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[sample.name + (f"{{{label}}}" if label else "")] = sample.value
    return found


def billed(runner: CliRunner, tmp_path: Path, customers: int = 6) -> Path:
    """A seeded file after one pass: 6 customers need nobody; 20 plant every case."""
    db = tmp_path / "antaeus.db"
    code, _, err = run(
        runner, db, "seed", "--customers", str(customers), "--seed", "1", "--as-of", AS_OF
    )
    assert code == ExitCode.OK, err
    code, _, err = run(runner, db, "bill", "--as-of", AS_OF, "--provider", "sim://")
    assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), err
    return db


def test_a_fresh_database_is_critical_until_a_pass_completes(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = tmp_path / "prod.db"
    assert run(runner, db, "init")[0] == ExitCode.OK
    code, out, _ = run(runner, db, "check")
    assert code == 2
    assert out == "ANTAEUS CRITICAL - no bill pass has completed yet\n"


def test_after_a_pass_then_two_days_later_with_the_metrics(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path)
    with sqlite3.connect(db) as conn:  # nothing held; the notices gone: a healthy file
        held = conn.execute("SELECT count(*) FROM invoice WHERE status = 'NEEDS_OPERATOR'")
        assert held.fetchone() == (0,)
        conn.execute("UPDATE notification SET status = 'sent', sent_at = created_at")
        (finished,) = conn.execute("SELECT finished_at FROM billing_run").fetchone()
    soon = finished[:19] + "Z"
    prom = tmp_path / "antaeus.prom"
    code, out, err = run(runner, db, "check", "--as-of", soon, "--metrics-file", str(prom))
    assert code == 0, out + err
    assert out == "ANTAEUS OK - billing is healthy\n"
    found = metrics(prom)
    assert found["antaeus_check_status"] == 0
    assert found["antaeus_invoices_needing_operator"] == 0
    assert found["antaeus_last_bill_completed_timestamp_seconds"] > 1.7e9
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("antaeus.prom.")]

    from datetime import datetime, timedelta

    later = (datetime.fromisoformat(finished) + timedelta(days=2)).isoformat()
    code, out, _ = run(runner, db, "check", "--as-of", later, "--json", "--metrics-file", str(prom))
    assert code == 2
    result = json.loads(out)
    assert result["status"] == "CRITICAL"
    assert [f["check"] for f in result["findings"]] == ["last_pass"]
    assert "48 hours ago" in result["findings"][0]["text"]
    assert metrics(prom)["antaeus_check_finding_level{check=last_pass}"] == 2


def test_held_invoices_and_waiting_notices_are_warnings(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path, customers=20)
    with sqlite3.connect(db) as conn:
        held = conn.execute(
            "SELECT count(*) FROM invoice WHERE status = 'NEEDS_OPERATOR'"
        ).fetchone()[0]
        (finished,) = conn.execute("SELECT finished_at FROM billing_run").fetchone()
    assert held > 0
    from datetime import datetime, timedelta

    later = (datetime.fromisoformat(finished) + timedelta(minutes=90)).isoformat()
    code, out, _ = run(runner, db, "check", "--as-of", later)
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0].startswith("ANTAEUS WARNING - ")
    assert any(f"{held} invoices held for an operator" in line for line in lines)
    assert any("notices waiting to go, the oldest for 90 minutes" in line for line in lines)


def test_a_database_that_needs_migrating_is_critical_and_one_that_cannot_be_read_unknown(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = old_database(tmp_path / "old.db")
    before = db.read_bytes()
    prom = tmp_path / "m.prom"
    code, out, _ = run(runner, db, "check", "--metrics-file", str(prom))
    assert code == 2
    assert out.startswith("ANTAEUS CRITICAL - database ")
    assert "migrate" in out
    assert db.read_bytes() == before
    assert metrics(prom) == {"antaeus_check_status": 2}
    code, out, _ = run(runner, tmp_path / "missing.db", "check", "--json")
    assert code == 3
    assert json.loads(out)["status"] == "UNKNOWN"


def test_check_never_writes(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = db.read_bytes()
    code, out, err = run(runner, db, "check")
    assert code in (0, 1, 2), out + err
    assert db.read_bytes() == before


def test_a_latest_pass_that_failed_after_a_completed_one_is_a_warning(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE notification SET status = 'sent', sent_at = created_at")
        (finished,) = conn.execute("SELECT finished_at FROM billing_run").fetchone()
        conn.execute(
            "INSERT INTO billing_run (command, as_of, provider, host, pid, started_at, "
            "finished_at, status, stop_reason) SELECT command, as_of, provider, host, pid, "
            "finished_at, finished_at, 'failed', 'refused before it began: no payment provider' "
            "FROM billing_run"
        )
    code, out, _ = run(runner, db, "check", "--as-of", finished[:19] + "Z")
    assert code == 1, out
    assert out == (
        "ANTAEUS WARNING - the latest bill pass did not complete: run 2 failed: refused "
        "before it began: no payment provider\n"
    )


def test_a_pass_writes_its_metrics_and_a_refused_one_too(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = tmp_path / "antaeus.db"
    assert run(runner, db, "seed", "--customers", "20", "--seed", "1", "--as-of", AS_OF)[0] == 0
    prom = tmp_path / "bill.prom"
    code, out, err = run(
        runner, db, "bill", "--as-of", AS_OF, "--json", "--metrics-file", str(prom)
    )
    assert code in (0, 1), err
    result = json.loads(out)
    found = metrics(prom)
    assert found["antaeus_pass_completed{command=bill,status=completed}"] == 1
    assert found["antaeus_pass_count{command=bill,outcome=paid}"] == result["counts"]["paid"]
    paid = {row["currency"]: row["amount_minor"] for row in result["paid"]}
    for currency, minor in paid.items():
        key = f"antaeus_pass_amount_minor{{command=bill,currency={currency},outcome=paid}}"
        assert found[key] == minor
    assert found["antaeus_last_bill_completed_timestamp_seconds"] > 1.7e9

    production = tmp_path / "prod.db"
    assert run(runner, production, "init")[0] == 0
    code, _, _ = run(runner, production, "bill", "--metrics-file", str(prom))
    assert code == ExitCode.USAGE
    found = metrics(prom)
    assert found["antaeus_pass_completed{command=bill,status=failed}"] == 0
    assert found["antaeus_last_bill_completed_timestamp_seconds"] == 0


def test_a_metrics_file_that_cannot_be_written_is_refused_before_the_pass_charges(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    """Refused before anything was claimed or sent; billing did not run, and the
    refused run says why, as for any setting that refuses a pass's start."""
    db = tmp_path / "antaeus.db"
    assert run(runner, db, "seed", "--customers", "6", "--seed", "1", "--as-of", AS_OF)[0] == 0
    for target in (tmp_path / "missing" / "bill.prom", tmp_path):
        code, _, err = run(runner, db, "bill", "--as-of", AS_OF, "--metrics-file", str(target))
        assert code == ExitCode.USAGE, err
        assert "--metrics-file" in err
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM payment_attempt").fetchone() == (0,)
            status, reason = conn.execute(
                "SELECT status, stop_reason FROM billing_run ORDER BY id DESC LIMIT 1"
            ).fetchone()
        assert status == "failed"
        assert reason.startswith("refused before it began: ")
        assert "--metrics-file" in reason
    assert tmp_path.is_dir()


def test_a_metrics_file_is_never_written_over_a_device_or_a_pipe(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path)
    pipe = tmp_path / "null"
    os.mkfifo(pipe)
    at = f"{AS_OF}T06:00:00Z"
    code, out, _ = run(runner, db, "check", "--as-of", at, "--metrics-file", str(pipe))
    assert code == UNKNOWN, out  # a check that cannot be made as asked
    assert out.startswith("ANTAEUS UNKNOWN - ")
    assert "--metrics-file" in out
    assert stat.S_ISFIFO(pipe.lstat().st_mode)


def test_a_metrics_file_lost_after_the_pass_still_shows_what_the_pass_did(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "antaeus.db"
    assert run(runner, db, "seed", "--customers", "6", "--seed", "1", "--as-of", AS_OF)[0] == 0

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "bill.prom.tmp")

    monkeypatch.setattr(prometheus_client, "write_to_textfile", full)
    prom = tmp_path / "bill.prom"
    code, out, err = run(
        runner, db, "bill", "--as-of", AS_OF, "--json", "--metrics-file", str(prom)
    )
    result = json.loads(out)  # the pass's summary, as without the file
    assert result["counts"]["paid"] > 0
    assert code == result["exit_code"] == ExitCode.OK
    assert "metrics" in err
    assert "nothing was changed" not in err


def test_a_metrics_file_replaces_only_a_metrics_file(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    """Never the database (a slip of tab completion), its side files, or any file that
    holds something else: the rename would destroy it."""
    db = billed(runner, tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me\n")
    at = f"{AS_OF}T06:00:00Z"
    for target in (db, Path(f"{db}-wal"), notes):
        before = target.read_bytes() if target.exists() else None
        code, out, err = run(runner, db, "check", "--as-of", at, "--metrics-file", str(target))
        assert code == UNKNOWN, err
        assert "--metrics-file" in out
        assert (target.read_bytes() if target.exists() else None) == before
    code, _, err = run(runner, db, "bill", "--as-of", AS_OF, "--metrics-file", str(db))
    assert code == ExitCode.USAGE, err
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    empty = tmp_path / "antaeus.prom"
    empty.touch()  # made beforehand, for its owner and mode: fine to fill
    code, out, err = run(runner, db, "check", "--as-of", at, "--metrics-file", str(empty))
    assert "UNKNOWN" not in out, err
    assert metrics(empty)["antaeus_check_status"] == code
    code, _, err = run(runner, db, "check", "--as-of", at, "--metrics-file", str(empty))
    assert metrics(empty)["antaeus_check_status"] == code  # and to replace, once ours


@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_a_metrics_file_is_never_a_side_file_of_a_database_named_through_a_link(
    runner: CliRunner,
    tmp_path: Path,
    side: str,
) -> None:
    """SQLite keeps the side files beside the file a symbolic link leads to: a metrics
    file named as one of those would be taken for the database's journal."""
    db = billed(runner, tmp_path)
    link = tmp_path / "through-a-link.db"
    link.symlink_to(db)
    target = Path(f"{db}{side}")
    at = f"{AS_OF}T06:00:00Z"
    code, out, err = run(runner, link, "check", "--as-of", at, "--metrics-file", str(target))
    assert code == UNKNOWN, err
    assert "--metrics-file" in out
    assert not target.exists()


def test_notify_writes_its_metrics(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path)
    prom = tmp_path / "notify.prom"
    spec = f"maildir://{tmp_path}/mail?from=billing@example.com&operator=ops@example.com"
    code, out, err = run(runner, db, "notify", "--notify", spec, "--json",
                         "--metrics-file", str(prom))  # fmt: skip
    assert code == 0, err
    sent = json.loads(out)["sent"]
    found = metrics(prom)
    assert sent > 0
    assert found["antaeus_notify_notices{outcome=sent}"] == sent
    assert found["antaeus_notify_completed"] == 1
    assert found["antaeus_notices_pending"] == 0


@pytest.mark.parametrize(
    "args",
    [("--pass-warning", "soon"), ("--as-of", "yesterday-ish"), ("--no-such-option",)],
    ids=["a value", "a moment", "an option"],
)
def test_a_check_that_cannot_be_made_as_asked_is_unknown_not_critical(
    runner: CliRunner,
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    """The Nagios convention: a plugin's usage error is UNKNOWN (3); CRITICAL (2) is
    kept for billing that is not healthy."""
    db = billed(runner, tmp_path)
    code, out, err = run(runner, db, "check", *args)
    assert code == UNKNOWN, out + err
    assert out.startswith("ANTAEUS UNKNOWN - ")


@pytest.mark.parametrize(
    ("pid", "heartbeat"),
    [
        (1, "2026-12-07 18:00:00"),  # no offset: read as UTC
        (1, "yesterday"),
        ("one", "2026-12-07T18:00:00+00:00"),
        (-1, "2026-12-07T18:00:00+00:00"),
    ],
)
def test_a_pass_lock_row_edited_by_hand_is_judged_not_a_crash(
    runner: CliRunner, tmp_path: Path, pid: object, heartbeat: str
) -> None:
    """The lock's pid or heartbeat written by hand into something no pass writes:
    `check`, `notify`, `report` and the next pass read it as a holder they cannot ask
    (and a heartbeat long ago), never an internal error."""
    db = billed(runner, tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO pass_lock VALUES (1, 1, 'otherhost', ?, 'x/y/z', "
            "'2026-12-07T18:00:00+00:00', ?)",
            (pid, heartbeat),
        )
    spec = f"maildir://{tmp_path}/mail?from=b@example.com&operator=o@example.com"
    for args in (
        ["check"],
        ["report"],
        ["notify", "--notify", spec],
        ["bill", "--as-of", "2026-12-01", "--provider", "sim://?latency_ms=0"],
    ):
        result = runner.invoke(app, ["--db", str(db), *args])
        assert result.exit_code < 4, (args, result.stdout, result.stderr)
        assert "internal error" not in result.stderr, args


def test_invoices_in_a_status_no_rule_knows_are_a_warning(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    """A hand edit left invoices in no status a pass selects: no pass charges or holds
    them, so check says so, where it used to say the billing was healthy."""
    db = billed(runner, tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE notification SET status = 'sent', sent_at = created_at")
        conn.execute("PRAGMA ignore_check_constraints = 1")
        conn.execute("UPDATE invoice SET status = 'paid' WHERE id IN (1, 2)")
        (finished,) = conn.execute("SELECT finished_at FROM billing_run").fetchone()
    code, out, err = run(runner, db, "check", "--as-of", finished[:19] + "Z")
    assert code == 1, out + err
    assert out.startswith(
        "ANTAEUS WARNING - 2 invoices with a status antaeus does not know or an amount"
    )
