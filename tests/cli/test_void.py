"""`antaeus void` as an operator types it: what it prints, its exit codes, one error
line when it refuses, and what `check` and `retry-failed` say after it."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.exit_codes import ExitCode
from tests.cli.test_check import billed
from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_json_schema import valid

REASON = "billed twice upstream; INV-17 is the right one"


def by_status(db: Path) -> dict[str, list[int]]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT status, id FROM invoice ORDER BY id").fetchall()
    found: dict[str, list[int]] = {}
    for status, invoice_id in rows:
        found.setdefault(status, []).append(invoice_id)
    return found


def test_an_operator_voids_the_held_invoices_and_check_stops_warning(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path, customers=20)
    held = by_status(db)["NEEDS_OPERATOR"]
    assert held
    code, out, _ = run(runner, db, "check", "--as-of", "2026-12-01T12:00:00Z")
    assert (code, out.split(" - ")[0]) == (1, "ANTAEUS WARNING")
    assert "held for an operator" in out

    names = [arg for invoice_id in held for arg in ("--invoice", str(invoice_id))]
    code, out, err = run(runner, db, "void", *names, "--reason", REASON, "--dry-run", "--json")
    assert (code, err) == (ExitCode.OK, "")
    preview = json.loads(out)
    valid("void", preview)
    assert preview["dry_run"] is True
    assert preview["voided_at"] is None
    assert [one["invoice_id"] for one in preview["voided"]] == held
    assert by_status(db)["NEEDS_OPERATOR"] == held  # a dry run writes nothing

    code, out, err = run(runner, db, "void", *names, "--reason", REASON)
    assert (code, err) == (ExitCode.OK, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"voided invoice {held[0]}: customer ")
    assert lines[-1].startswith(f"void: {len(held)} invoices voided at ")
    assert lines[-1].endswith(f"because: {REASON}")
    assert by_status(db)["VOID"] == held
    assert "NEEDS_OPERATOR" not in by_status(db)

    code, out, _ = run(runner, db, "check", "--as-of", "2026-12-01T12:00:00Z")
    assert "held for an operator" not in out
    code, out, err = run(runner, db, "void", "--invoice", str(held[0]), "--reason", "x", "--json")
    assert code == ExitCode.OK, err
    again = json.loads(out)
    valid("void", again)
    assert (again["voided"], again["voided_at"]) == ([], None)
    assert [(one["invoice_id"], one["reason"]) for one in again["already_void"]] == [
        (held[0], REASON)
    ]


def test_a_refused_void_is_one_line_exit_2_and_voids_nothing(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path, customers=20)
    before = by_status(db)
    paid, held = before["PAID"][0], before["NEEDS_OPERATOR"][0]
    code, out, err = run(
        runner, db, "void", "--invoice", str(held), "--invoice", str(paid), "--reason", REASON
    )
    assert (code, out) == (ExitCode.USAGE, "")
    assert_one_line_error(err, f"invoice {paid} is PAID under key ")
    assert err.rstrip().endswith("nothing was voided")
    assert by_status(db) == before
    for args, fragment in [
        (("--invoice", str(held)), "Missing option '--reason'"),
        (("--invoice", str(held), "--reason", " "), "must say why the invoice is voided"),
        (("--invoice", str(held), "--reason", "a\nb"), "must be one line of text"),
        (("--reason", REASON), "Missing option '--invoice'"),
        (("--invoice", "0", "--reason", REASON), "invoice 0 does not exist"),
        (("--invoice", "99999999999999999999", "--reason", REASON), "'--invoice'"),
    ]:
        code, out, err = run(runner, db, "void", *args)
        assert (code, out) == (ExitCode.USAGE, ""), args
        assert_one_line_error(err, fragment)
    assert by_status(db) == before


def test_a_void_invoice_named_to_retry_failed_is_refused(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path, customers=20)
    held = by_status(db)["NEEDS_OPERATOR"][0]
    assert run(runner, db, "void", "--invoice", str(held), "--reason", REASON)[0] == ExitCode.OK
    code, _, err = run(
        runner, db, "retry-failed", "--invoice", str(held), "--as-of", "2026-12-01",
        "--provider", "sim://",
    )  # fmt: skip
    assert code == ExitCode.USAGE
    assert_one_line_error(err, f"invoice {held} is VOID: an operator voided it")


def test_report_lists_the_void_invoices_in_every_format(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    db = billed(runner, tmp_path, customers=20)
    held = by_status(db)["NEEDS_OPERATOR"]
    assert run(runner, db, "void", "--invoice", str(held[0]), "--reason", REASON)[0] == 0
    code, out, _ = run(runner, db, "report", "--section", "void")
    assert code == ExitCode.OK
    assert "void: never charged" in out
    assert f"\n│ {held[0]} " in out
    assert "billed" in out
    code, out, _ = run(runner, db, "report", "--section", "void", "--format", "csv")
    header, row = out.splitlines()
    assert header.startswith("invoice_id,customer_id,amount,currency,amount_formatted,due_date,")
    assert row.startswith(f"{held[0]},")
    assert REASON in row
    code, out, _ = run(runner, db, "report", "--json")
    whole = json.loads(out)
    valid("report", whole)
    assert whole["void_total"] == 1
    assert [row["invoice_id"] for row in whole["void"]] == [held[0]]
    assert held[0] not in [row["invoice_id"] for row in whole["needs-operator"]]
    assert whole["needs_operator_total"] == len(held) - 1


def test_a_login_sudo_names_in_bytes_that_are_not_utf8_is_recorded_readably(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = billed(runner, tmp_path, customers=20)
    held = by_status(db)["NEEDS_OPERATOR"][0]
    monkeypatch.setenv("SUDO_USER", "ev\udcffil")  # the byte 0xff, as os.environ holds it
    code, out, err = run(runner, db, "void", "--invoice", str(held), "--reason", REASON)
    assert (code, err) == (ExitCode.OK, ""), err
    assert "(sudo from ev\ufffdil)" in out
    assert by_status(db)["VOID"] == [held]
    with closing(sqlite3.connect(db)) as conn:
        (who,) = conn.execute("SELECT voided_by FROM voiding").fetchone()
    assert who.endswith("(sudo from ev\ufffdil)")


def test_an_invoice_with_an_id_below_one_can_be_voided_and_named(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Passes bill any row id, those below 1 included, and hold them with a way out
    that names them: both ways out take them."""
    db = tmp_path / "antaeus.db"
    run(runner, db, "seed", "--customers", "1", "--as-of", "2026-11-01")
    with closing(sqlite3.connect(db)) as conn, conn:
        currency = conn.execute("SELECT currency FROM customer").fetchone()[0]
        conn.executemany(
            "INSERT INTO invoice (id, customer_id, amount, currency, due_date) "
            "VALUES (?, 1, 1000, ?, '2026-12-01')",
            [(-5, currency), (-6, currency)],
        )
    provider = ("--provider", "sim://?latency_ms=0")
    code, _, err = run(runner, db, "bill", "--as-of", "2026-12-01", *provider)
    assert code == ExitCode.NEEDS_OPERATOR, err
    code, _, err = run(runner, db, "void", "--invoice", "-6", "--reason", "the twin")
    assert code == ExitCode.OK, err
    code, _, err = run(
        runner, db, "retry-failed", "--as-of", "2026-12-01", "--invoice", "-5", *provider
    )
    assert code == ExitCode.OK, err
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute(
            "SELECT id, status FROM invoice WHERE id < 0 ORDER BY id"
        ).fetchall() == [
            (-6, "VOID"),
            (-5, "PAID"),
        ]
