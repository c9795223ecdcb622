"""What a database is for decides what may charge from it: `antaeus init` makes an
empty production database, which charges through a real provider only; a forgotten
`ANTAEUS_PROVIDER` there is exit 2, never a pass through the simulator."""

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
from antaeus_cli.store.schema import SCHEMA_VERSION
from tests.cli.test_cli import assert_one_line_error, run

AS_OF = "2026-12-01"


def add_invoice(db: Path) -> None:
    """One customer and one due invoice, written by SQL as an upstream system would."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO customer (id, currency, provider_ref, email, timezone) "
            "VALUES (1, 'EUR', 'cus_1', 'a@example.com', 'Europe/Copenhagen')"
        )
        conn.execute(
            "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
            "decline_count, created_at, updated_at) "
            "VALUES (1, 1, 1500, 'EUR', 'PENDING', '2026-12-01', 0, "
            "'2026-11-30T00:00:00+00:00', '2026-11-30T00:00:00+00:00')"
        )


def nothing_ran(db: Path, reason: str | None = None) -> None:
    """Nothing charged or claimed; the refusal recorded as a failed run with its reason
    (`reason`), and the operator's summary of it queued."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM payment_attempt").fetchone() == (0,)
        assert conn.execute("SELECT status FROM invoice").fetchall() == [("PENDING",)]
        recorded = conn.execute("SELECT status, stop_reason FROM billing_run").fetchall()
        summaries = conn.execute(
            "SELECT count(*) FROM notification WHERE kind = 'run_summary'"
        ).fetchone()
    if reason is None:
        assert recorded == []
        return
    ((status, stop_reason),) = recorded
    assert status == "failed"
    assert stop_reason.startswith("refused before it began: ")
    assert reason in stop_reason
    assert summaries == (1,)


@pytest.fixture
def production(runner: CliRunner, tmp_path: Path) -> Path:
    db = tmp_path / "prod.db"
    code, out, err = run(runner, db, "init", "--json")
    assert code == ExitCode.OK, err
    assert json.loads(out) == {
        "database": str(db),
        "purpose": "production",
        "db_schema_version": SCHEMA_VERSION,
        "schema_version": 1,  # of the JSON
    }
    add_invoice(db)
    return db


def test_init_makes_an_empty_private_database_and_never_replaces_one(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = tmp_path / "prod.db"
    code, out, err = run(runner, db, "init")
    assert code == ExitCode.OK, err
    assert "empty production database" in out
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM invoice").fetchone() == (0,)
        assert conn.execute("SELECT value FROM meta WHERE key = 'purpose'").fetchone() == (
            "production",
        )
    add_invoice(db)
    before = db.read_bytes()
    code, _, err = run(runner, db, "init")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "already exists: init never replaces a database")
    assert db.read_bytes() == before
    assert not [p.name for p in tmp_path.iterdir() if ".init-" in p.name]  # nothing staged


def test_init_in_a_missing_directory_is_a_usage_error(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    code, _, err = run(runner, tmp_path / "nowhere" / "prod.db", "init")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "does not exist")


@pytest.mark.parametrize("command", ["bill", "retry-failed"])
def test_a_production_database_without_a_provider_charges_nothing(
    runner: CliRunner,
    production: Path,
    command: str,
) -> None:
    code, out, err = run(runner, production, command, "--as-of", AS_OF, "--json")
    assert code == ExitCode.USAGE, out + err
    assert_one_line_error(err, "no payment provider")
    assert "set ANTAEUS_PROVIDER" in err
    nothing_ran(production, "no payment provider")


@pytest.mark.parametrize("named", ["option", "variable"])
def test_a_production_database_refuses_the_simulator_however_it_is_named(
    runner: CliRunner,
    production: Path,
    monkeypatch: pytest.MonkeyPatch,
    named: str,
) -> None:
    args = ["bill", "--as-of", AS_OF]
    if named == "option":
        args += ["--provider", "sim://?seed=3"]
    else:
        monkeypatch.setenv("ANTAEUS_PROVIDER", "sim://")
    code, out, err = run(runner, production, *args)
    assert code == ExitCode.USAGE, out + err
    assert_one_line_error(err, "never charges through the simulator")
    nothing_ran(production, "never charges through the simulator")


def test_a_dry_run_on_a_production_database_needs_no_provider(
    runner: CliRunner,
    production: Path,
) -> None:
    code, out, err = run(runner, production, "bill", "--as-of", AS_OF, "--dry-run", "--json")
    assert code == ExitCode.OK, err
    assert json.loads(out)["to_charge"] == [
        {"currency": "EUR", "count": 1, "amount_minor": 1500, "amount": "EUR 15.00"}
    ]
    nothing_ran(production)


def test_a_database_made_before_purposes_needs_a_provider_named(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    code, _, err = run(runner, db, "seed", "--customers", "3", "--seed", "2", "--as-of", AS_OF)
    assert code == ExitCode.OK, err
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'purpose'")
    code, _, err = run(runner, db, "bill", "--as-of", AS_OF)
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "does not say it is a demo")
    code, _, err = run(runner, db, "bill", "--as-of", AS_OF, "--provider", "sim://")
    assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), err


def test_a_seeded_database_is_a_demo_and_may_use_the_simulator_by_default(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = tmp_path / "demo.db"
    code, _, err = run(runner, db, "seed", "--customers", "0")
    assert code == ExitCode.OK, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'purpose'").fetchone() == ("demo",)
    code, _, err = run(runner, db, "bill", "--as-of", AS_OF)
    assert code == ExitCode.OK, err


def test_init_refuses_a_device_or_a_link_in_its_own_name(runner: CliRunner, tmp_path: Path) -> None:
    link = tmp_path / "prod.db"
    link.symlink_to(tmp_path / "elsewhere.db")
    for target in (Path(os.devnull), link):
        code, _, err = run(runner, target, "init")
        assert code == ExitCode.USAGE
        assert_one_line_error(err, "init never replaces it; pass --db with a file path")
    assert not (tmp_path / "elsewhere.db").exists()


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("stripe://", "needs an API key"),
        ("stripe://?api_key_file=/nonexistent/stripe.key", "cannot read the file"),
        ("simulator://", "unknown provider"),
        ("", "set but empty"),
    ],
    ids=["no-key", "key-file-missing", "unknown-scheme", "empty"],
)
def test_a_provider_setting_that_cannot_be_used_is_recorded_and_told(
    runner: CliRunner,
    production: Path,
    monkeypatch: pytest.MonkeyPatch,
    spec: str,
    reason: str,
) -> None:
    """A key file gone or a mistyped spec stops billing as surely as a refused key:
    the run is recorded, with its reason, and the operator is told."""
    monkeypatch.setenv("ANTAEUS_PROVIDER", spec)
    code, out, err = run(runner, production, "bill", "--as-of", AS_OF)
    assert code == ExitCode.USAGE, out + err
    assert_one_line_error(err, reason)
    nothing_ran(production, reason)


def test_seed_never_replaces_a_production_database_even_with_force(
    runner: CliRunner, production: Path
) -> None:
    """A demo in its place would bill nobody, or bill through the simulator, while
    every pass looked healthy."""
    before = production.read_bytes()
    code, _, err = run(runner, production, "seed", "--force", "--customers", "3")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "is a production database")
    assert production.read_bytes() == before
    assert not [p.name for p in production.parent.iterdir() if "replaced" in p.name]
