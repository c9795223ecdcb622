"""Upgrades and backups: only `antaeus migrate` moves a schema forward, after a
verified backup; every other command refuses an older schema and leaves the file
exactly as it was; `antaeus backup` makes a private, verified copy of a live file."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.store import schema
from tests.cli.test_cli import assert_one_line_error, run


def old_database(path: Path) -> Path:
    """A database at schema version 1, with two invoices, as an older antaeus left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, schema.MIGRATIONS[:1]) == [1]
    conn.execute("INSERT INTO meta VALUES ('namespace', 'feedf00d')")
    conn.execute("INSERT INTO customer VALUES (1, 'EUR'), (2, 'EUR')")
    conn.execute(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
        "updated_at) VALUES (1, 1, 700, 'EUR', '2026-12-01', 't', 't'), "
        "(2, 2, 900, 'EUR', '2026-12-01', 't', 't')"
    )
    conn.close()
    os.chmod(path, 0o600)
    return path


def version_and_invoices(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return schema.user_version(conn), conn.execute("SELECT count(*) FROM invoice").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize(
    "args",
    [
        ["report"],
        ["report", "--format", "json"],
        ["bill", "--dry-run", "--as-of", "2026-12-01"],
        ["bill", "--as-of", "2026-12-01", "--provider", "sim://"],
        ["retry-failed", "--dry-run", "--as-of", "2026-12-01"],
        [
            "notify",
            "--dry-run",
            "--notify",
            "maildir://mail?from=billing@example.com&operator=ops@example.com",
        ],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_an_older_schema_is_refused_by_every_other_command_and_left_untouched(
    runner: CliRunner,
    tmp_path: Path,
    args: list[str],
) -> None:
    db = old_database(tmp_path / "old.db")
    before = db.read_bytes()
    code, out, err = run(runner, db, *args)
    assert code == ExitCode.USAGE, out + err
    assert_one_line_error(err, "has schema version 1; this antaeus writes version")
    assert f"run 'antaeus --db {db} migrate'" in err
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]  # no WAL, no journal


def test_migrate_backs_up_first_then_moves_the_schema_forward_once(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = old_database(tmp_path / "old.db")
    code, out, err = run(runner, db, "migrate", "--json")
    assert code == ExitCode.OK, err
    result = json.loads(out)
    saved = Path(result["backup"]["backup"])
    assert result["from_db_schema_version"] == 1
    assert result["to_db_schema_version"] == schema.SCHEMA_VERSION
    assert saved.parent == tmp_path
    assert saved.name.startswith("old.db.v1-")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert version_and_invoices(saved) == (1, 2)
    assert version_and_invoices(db) == (schema.SCHEMA_VERSION, 2)
    code, _, err = run(runner, db, "report", "--format", "json")
    assert code == ExitCode.OK, err

    code, out, err = run(runner, db, "migrate")
    assert code == ExitCode.OK, err
    assert "nothing to do" in out
    assert sorted(tmp_path.glob("old.db.v*")) == [saved]  # no second backup


def test_migrate_never_writes_its_backup_over_a_file(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = old_database(tmp_path / "old.db")
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    code, _, err = run(runner, db, "migrate", "--backup", str(taken))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "a backup never replaces a file")
    assert taken.read_text() == "keep me"
    assert version_and_invoices(db) == (1, 2)  # no backup, no migration


def test_migrate_refuses_an_invoice_with_two_open_attempts_before_its_backup(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Version 16 allows one open attempt an invoice: a database where an invoice has
    two (written by hand) is refused, naming them, before any backup; once all but one
    are settled by hand, it migrates, the open one kept open."""
    db, version = old_database(tmp_path / "old.db"), 15
    conn = sqlite3.connect(db, isolation_level=None)
    schema.migrate(conn, schema.MIGRATIONS[:version])
    conn.execute(
        "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at) "
        "VALUES (1, 'bill', '2026-12-01', 'sim://', 'h', 1, 't')"
    )
    for attempt_no in (1, 2):
        conn.execute(
            "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
            "run_id, amount, currency, command, from_status, started_at, period) "
            "VALUES (2, 2, ?, ?, 1, 900, 'EUR', 'bill', 'PENDING', 't', '2026-12')",
            (attempt_no, f"feedf00d-inv-2-{attempt_no}"),
        )
    conn.close()

    code, _, err = run(runner, db, "migrate")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "invoice 2 has 2 open attempts (ids 1, 2)")
    assert "settle all but one by hand" in err
    assert "nothing was changed" in err
    assert version_and_invoices(db) == (version, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]  # no backup made

    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE payment_attempt SET outcome = 'lapsed', finished_at = 't', "
            "error = 'settled by hand: no charge under the key' WHERE id = 1"
        )
    code, _, err = run(runner, db, "migrate")
    assert code == ExitCode.OK, err
    assert version_and_invoices(db) == (schema.SCHEMA_VERSION, 2)
    with sqlite3.connect(db) as conn:
        still_open = "SELECT id FROM payment_attempt WHERE finished_at IS NULL"
        assert conn.execute(still_open).fetchall() == [(2,)]


@pytest.mark.parametrize("meanwhile", ["a second open attempt", "a pass"])
def test_what_begins_while_migrate_backs_up_is_judged_again_under_its_lock(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    """A pass that starts, or an attempt opened, while the backup is made is seen by the
    migration itself, under its write lock: refused as before it, nothing moved, and the
    backup this run made is removed (a busy database leaves none either)."""
    from datetime import UTC, datetime

    from antaeus_cli import upkeep

    db, version = old_database(tmp_path / "old.db"), 15
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        schema.migrate(conn, schema.MIGRATIONS[:version])
        conn.execute(
            "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at) "
            "VALUES (1, 'bill', '2026-12-01', 'sim://', 'h', 1, 't')"
        )
        conn.execute(OPEN_ATTEMPT, (1, "feedf00d-inv-2-1"))
    real_backup = upkeep.backup

    def backup_while_it_begins(source: Path, target: Path) -> upkeep.BackupResult:
        saved = real_backup(source, target)
        with closing(sqlite3.connect(db, isolation_level=None)) as conn:
            if meanwhile == "a pass":
                now = datetime.now(UTC).isoformat()
                conn.execute(
                    "INSERT INTO billing_run (id, command, as_of, provider, host, pid, "
                    "started_at) VALUES (2, 'bill', '2026-12-01', 'sim://', 'elsewhere', 7, ?)",
                    (now,),
                )
                conn.execute(
                    "INSERT INTO pass_lock (id, run_id, host, pid, process_tag, acquired_at, "
                    "heartbeat_at) VALUES (1, 2, 'elsewhere', 7, 'x', ?, ?)",
                    (now, now),
                )
            else:
                conn.execute(OPEN_ATTEMPT, (2, "feedf00d-inv-2-2"))
        return saved

    monkeypatch.setattr(upkeep, "backup", backup_while_it_begins)
    code, _, err = run(runner, db, "migrate")
    if meanwhile == "a pass":
        assert code == ExitCode.LOCKED
        assert_one_line_error(err, "a billing pass is using")
    else:
        assert code == ExitCode.USAGE
        assert_one_line_error(err, "invoice 2 has 2 open attempts (ids 1, 2)")
    assert version_and_invoices(db) == (version, 2)
    assert sorted(tmp_path.glob("old.db.v*")) == []  # the backup removed


def test_migrate_s_refusal_names_a_few_and_counts_the_rest_whatever_the_ids_hold(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Many invoices with open attempts twice over: the first five are named, each with
    its first five attempt ids and how many it has, and the rest counted; an invoice id
    written by hand as bytes that are not UTF-8 is named too, not a crash."""
    db = old_database(tmp_path / "old.db")
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        schema.migrate(conn, schema.MIGRATIONS[:15])
        conn.execute(
            "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at) "
            "VALUES (1, 'bill', '2026-12-01', 'sim://', 'h', 1, 't')"
        )
        opened = (
            "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, "
            "idempotency_key, run_id, amount, currency, command, from_status, started_at, "
            "period) VALUES (?, 2, ?, ?, 1, 900, 'EUR', 'bill', 'PENDING', 't', '2026-12')"
        )
        for invoice, times in [(9, 7), *((i, 2) for i in range(10, 17))]:
            for n in range(1, times + 1):
                conn.execute(opened, (invoice, n, f"k-{invoice}-{n}"))
        for n in (1, 2):
            conn.execute(
                opened.replace("VALUES (?,", "VALUES (CAST(X'FF33' AS TEXT),"), (n, f"k-x-{n}")
            )
    code, _, err = run(runner, db, "migrate")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "invoice 9 has 7 open attempts (ids 1, 2, 3, 4, 5, ... 7 in all)")
    assert "invoice 13 has 2 open attempts" in err
    assert "invoice 14" not in err
    assert "; and 4 more invoices: schema version 16 allows one open attempt" in err
    assert version_and_invoices(db) == (15, 2)


OPEN_ATTEMPT = (
    "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
    "run_id, amount, currency, command, from_status, started_at, period) "
    "VALUES (2, 2, ?, ?, 1, 900, 'EUR', 'bill', 'PENDING', 't', '2026-12')"
)


def test_backup_makes_a_private_verified_copy_and_refuses_what_it_cannot_do(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = tmp_path / "antaeus.db"
    code, _, err = run(runner, db, "seed", "--customers", "5", "--seed", "3")
    assert code == ExitCode.OK, err
    target = tmp_path / "copy.db"
    code, out, err = run(runner, db, "backup", str(target))
    assert code == ExitCode.OK, err
    assert "verified" in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert version_and_invoices(target) == version_and_invoices(db)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".copy.db")]

    code, _, err = run(runner, db, "backup", str(target))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "already exists")
    code, _, err = run(runner, db, "backup", str(tmp_path / "nowhere" / "copy.db"))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "does not exist")
    stranger = tmp_path / "notes.db"
    with sqlite3.connect(stranger) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    code, _, err = run(runner, stranger, "backup", str(tmp_path / "notes-copy.db"))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "not an antaeus one")
    assert not (tmp_path / "notes-copy.db").exists()


@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_a_backup_is_never_named_as_one_of_the_database_s_own_files(
    runner: CliRunner,
    tmp_path: Path,
    side: str,
) -> None:
    """SQLite would take the copy for the database's journal, and discard it."""
    db = tmp_path / "prod.db"
    assert run(runner, db, "init")[0] == ExitCode.OK
    code, _, err = run(runner, db, "backup", f"{db}{side}")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "one of the database's own files")
    assert not Path(f"{db}{side}").exists()


@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_a_backup_is_never_named_as_a_side_file_of_a_database_named_through_a_link(
    runner: CliRunner,
    tmp_path: Path,
    side: str,
) -> None:
    """SQLite keeps the side files beside the file a symbolic link leads to."""
    db = tmp_path / "prod.db"
    assert run(runner, db, "init")[0] == ExitCode.OK
    link = tmp_path / "through-a-link.db"
    link.symlink_to(db)
    code, _, err = run(runner, link, "backup", f"{db}{side}")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "one of the database's own files")
    assert not Path(f"{db}{side}").exists()
