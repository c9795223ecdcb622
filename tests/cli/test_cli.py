"""The CLI layer: exit codes, one-line errors, JSON. Thin on purpose; the service
tests cover behaviour."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli import __version__
from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.host import current_process
from tests.conftest import stored_text
from tests.servers.smtp import smtp_server

ROOT = Path(__file__).resolve().parents[2]
EVERY_OUTCOME = ROOT / "fixtures" / "every-outcome.json"


def run(runner: CliRunner, db: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(stderr: str, fragment: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("antaeus: error: "), stderr
    assert fragment in lines[0], stderr
    assert "Traceback" not in stderr


@pytest.fixture
def seeded(runner: CliRunner, tmp_path: Path) -> Path:
    db = tmp_path / "antaeus.db"
    code, _, err = run(runner, db, "seed", "--from", str(EVERY_OUTCOME))
    assert code == ExitCode.OK, err
    return db


def test_bill_reports_needs_operator_with_exit_1_and_json(runner: CliRunner, seeded: Path) -> None:
    code, out, err = run(runner, seeded, "bill", "--as-of", "2026-12-01", "--json")
    assert code == ExitCode.NEEDS_OPERATOR, err
    payload = json.loads(out)
    assert payload["exit_code"] == 1
    assert payload["status"] == "completed"
    assert payload["counts"]["paid"] == 2
    assert payload["counts"]["declined"] == 1
    assert payload["counts"]["needs_operator"] == 5
    assert {row["currency"] for row in payload["paid"]} == {"EUR", "USD"}
    assert all(isinstance(row["amount_minor"], int) for row in payload["paid"])
    assert err == ""


def test_a_clean_pass_exits_0_and_declines_are_not_errors(runner: CliRunner, seeded: Path) -> None:
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    code, out, err = run(runner, seeded, "retry-failed", "--as-of", "2026-12-02", "--json")
    assert code == ExitCode.OK, err
    assert json.loads(out)["counts"]["declined"] == 2


def test_plain_output_has_no_ansi_codes(runner: CliRunner, seeded: Path) -> None:
    code, out, err = run(runner, seeded, "bill", "--as-of", "2026-12-01")
    assert code == ExitCode.NEEDS_OPERATOR
    assert "\x1b" not in out + err
    assert "run 1 (bill, as of 2026-12-01) completed; exit 1" in out
    assert "bill: charge: 8 invoices due" in err


def test_dry_run_json_changes_nothing(runner: CliRunner, seeded: Path) -> None:
    before = seeded.read_bytes()
    code, out, _ = run(runner, seeded, "bill", "--as-of", "2026-12-01", "--dry-run", "--json")
    assert code == ExitCode.OK
    payload = json.loads(out)
    assert payload["dry_run"] is True
    assert payload["needs_operator_count"] == 3
    assert seeded.read_bytes() == before


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_report_formats(runner: CliRunner, seeded: Path, fmt: str) -> None:
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    code, out, err = run(runner, seeded, "report", "--format", fmt)
    assert code == ExitCode.OK, err
    if fmt == "json":
        payload = json.loads(out)
        assert {"totals", "needs-operator", "runs"} <= payload.keys()
        assert len(payload["needs-operator"]) == 5
    elif fmt == "csv":
        assert out.splitlines()[0] == "status,currency,count,amount_minor,amount"
    else:
        assert "NEEDS_OPERATOR" in out


def test_retry_failed_named_invoice(runner: CliRunner, seeded: Path) -> None:
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    code, out, err = run(runner, seeded, "retry-failed", "--invoice", "4", "--json")
    assert code == ExitCode.NEEDS_OPERATOR, err  # the provider still does not know customer 3
    assert json.loads(out)["needs_operator"][0]["invoice_id"] == 4


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()


def _newer_schema(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["bill", "--as-of", "2026-13-01"], ExitCode.USAGE, "--as-of"),
        (["bill", "--as-of", "tomorrow"], ExitCode.USAGE, "expected a date"),
        (["bill", "--as-of", "2026-W01-1"], ExitCode.USAGE, "expected a date"),
        (["bill", "--as-of", "9999-12-31"], ExitCode.USAGE, "outside"),
        (["bill", "--as-of", "2026-12-01T00:00:00"], ExitCode.USAGE, "with an offset"),
        (["bill", "--as-of", "2026-12-01T24:30:00Z"], ExitCode.USAGE, "expected a date"),
        (["bill", "--tz", "Europe/Atlantis"], ExitCode.USAGE, "unknown time zone"),
        (["retry-failed", "--tz", "../../etc/passwd"], ExitCode.USAGE, "--tz"),
        (["bill", "--tz", ""], ExitCode.USAGE, "unknown time zone"),
        (["seed", "--force", "--as-of", "0001-01-15"], ExitCode.USAGE, "outside"),
        (["retry-failed", "--invoice", "99999999999999999999999"], ExitCode.USAGE, "--invoice"),
        (["bill", "--dry-run", "--provider", "sim://?foo=1"], ExitCode.USAGE, "unknown parameter"),
        (["seed", "--force", "--provider", "sim://?ledger=SELF"], ExitCode.USAGE, "same file"),
        (["bill", "--concurrency", "-3"], ExitCode.USAGE, "--concurrency"),
        (["bill", "--concurrency", "lots"], ExitCode.USAGE, "--concurrency"),
        (["bill", "--frobnicate"], ExitCode.USAGE, "No such option"),
        (["bil"], ExitCode.USAGE, "No such command"),
        (["bill", "--provider", "paypal://live"], ExitCode.USAGE, "unknown provider"),
        (["bill", "--provider", "stripe://"], ExitCode.USAGE, "needs an API key"),
        (["bill", "--provider", "sim://?latency_ms=-5"], ExitCode.USAGE, "latency_ms"),
        (["bill", "--provider", "sim://?api_key=sk_live_1"], ExitCode.USAGE, "ANTAEUS_PROVIDER"),
        (["bill", "--dunning", "7,3"], ExitCode.USAGE, "increasing"),
        (["retry-failed", "--invoice", "1"], ExitCode.USAGE, "already PAID"),
        (["retry-failed", "--invoice", "999"], ExitCode.USAGE, "does not exist"),
        (["retry-failed", "--invoice", "0"], ExitCode.USAGE, "invoice 0 does not exist"),
        (["report", "--format", "xml"], ExitCode.USAGE, "--format"),
        (["seed"], ExitCode.USAGE, "--force"),
        (["seed", "--force", "--from", "nope.json"], ExitCode.USAGE, "not found"),
    ],
)
def test_bad_input_gets_one_line_and_a_documented_code(
    runner: CliRunner, seeded: Path, args: list[str], code: int, fragment: str
) -> None:
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    before = seeded.read_bytes()
    invoices = _invoices(seeded)
    args = [a.replace("SELF", str(seeded)) for a in args]
    got, out, err = run(runner, seeded, *args)
    assert got == code
    assert_one_line_error(err, fragment)
    if refuses_a_start(args):
        refusal_recorded(seeded, invoices)  # billing stopped: the run says why
    else:
        assert seeded.read_bytes() == before
    assert "sk_live_1" not in out + err
    assert "sk_live_1" not in stored_text(seeded)


# The settings of a pass (an option, or the variable it defaults to): one that cannot
# be used stops billing, and the run says why. Not --as-of, the moment typed by hand.
PASS_SETTINGS = ("--provider", "--tz", "--dunning", "--max-total", "--metrics-file")


def refuses_a_start(args: list[str]) -> bool:
    return (
        args[0] in ("bill", "retry-failed")
        and any(arg in PASS_SETTINGS for arg in args)
        and "--dry-run" not in args
    )


def _invoices(db: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT * FROM invoice ORDER BY id").fetchall()


def refusal_recorded(db: Path, invoices: list[tuple[object, ...]]) -> None:
    """A pass refused before it began: the invoices as they were, and the newest run
    a failed one that says so."""
    assert _invoices(db) == invoices
    with closing(sqlite3.connect(db)) as conn:
        status, reason = conn.execute(
            "SELECT status, stop_reason FROM billing_run ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert status == "failed"
    assert reason.startswith("refused before it began: ")


@pytest.mark.parametrize(
    ("prepare", "fragment"),
    [
        (None, "not found"),
        (lambda p: p.write_bytes(b"definitely not sqlite" * 50), "not a SQLite database"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (_foreign_sqlite, "not an antaeus one"),
        (_newer_schema, "not an antaeus one"),
    ],
)
@pytest.mark.parametrize("command", [["bill"], ["retry-failed"], ["report"]])
def test_unusable_database_files_are_refused_untouched(
    runner: CliRunner, tmp_path: Path, prepare: object, fragment: str, command: list[str]
) -> None:
    db = tmp_path / "antaeus.db"
    if callable(prepare):
        prepare(db)
    before = db.read_bytes() if db.exists() else None
    code, _, err = run(runner, db, *command)
    assert code == ExitCode.USAGE
    assert_one_line_error(err, fragment)
    assert (db.read_bytes() if db.exists() else None) == before


def test_a_newer_antaeus_schema_is_refused(runner: CliRunner, seeded: Path) -> None:
    conn = sqlite3.connect(seeded)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    code, _, err = run(runner, seeded, "bill")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "upgrade antaeus")


def test_a_held_lock_exits_4(runner: CliRunner, seeded: Path) -> None:
    me = current_process()
    conn = sqlite3.connect(seeded)
    conn.execute(
        "INSERT INTO billing_run (command, as_of, provider, host, pid, started_at) "
        "VALUES ('bill', '2026-12-01', 'sim://', ?, ?, '2026-12-01T00:05:00+00:00')",
        (me.host, me.pid),
    )
    conn.execute(
        "INSERT INTO pass_lock VALUES (1, 1, ?, ?, ?, '2026-12-01T00:05:00+00:00', "
        "'2026-12-01T00:05:00+00:00')",
        (me.host, me.pid, me.tag),
    )
    conn.commit()
    conn.close()
    code, _, err = run(runner, seeded, "bill")
    assert code == ExitCode.LOCKED
    assert_one_line_error(err, "another pass holds the lock")
    code, _, err = run(runner, seeded, "seed", "--force")
    assert code == ExitCode.LOCKED


def test_a_malformed_failpoint_is_an_input_error(
    runner: CliRunner, seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTAEUS_FAILPOINT", "somewhere:1")
    code, _, err = run(runner, seeded, "bill")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "ANTAEUS_FAILPOINT")


def test_credentials_from_the_environment_are_used_and_never_stored_or_echoed(
    runner: CliRunner, seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTAEUS_PROVIDER", "sim://?api_key=sk_live_4f9a")
    code, out, err = run(runner, seeded, "bill", "--as-of", "2026-12-01", "--json")
    assert code == ExitCode.NEEDS_OPERATOR, err
    assert json.loads(out)["provider"] == "sim://?api_key=***"
    _, report, _ = run(runner, seeded, "report", "--format", "json")
    assert json.loads(report)["runs"][0]["provider"] == "sim://?api_key=***"
    assert "sk_live_4f9a" not in out + err + report
    for path in seeded.parent.iterdir():
        assert b"sk_live_4f9a" not in path.read_bytes(), path


def test_credentials_can_come_from_a_file(runner: CliRunner, seeded: Path, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("sk_live_4f9a\n")
    spec = f"sim://?api_key_file={secret}"
    code, out, err = run(runner, seeded, "bill", "--as-of", "2026-12-01", "--provider", spec)
    assert code == ExitCode.NEEDS_OPERATOR, err
    assert "sk_live_4f9a" not in out + err
    code, _, err = run(runner, seeded, "bill", "--provider", "sim://?api_key_file=/nonexistent")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "cannot read the file named by 'api_key_file'")


def test_every_command_has_help(runner: CliRunner) -> None:
    for command in ("seed", "bill", "retry-failed", "report"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Usage" in result.stdout


def test_version_names_the_database_schema_a_new_database_gets(
    runner: CliRunner, tmp_path: Path
) -> None:
    db = tmp_path / "prod.db"
    code, _, err = run(runner, db, "init")
    assert code == ExitCode.OK, err
    with closing(sqlite3.connect(db)) as conn:
        written = conn.execute("PRAGMA user_version").fetchone()[0]
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == ExitCode.OK
    assert result.stdout == f"antaeus {__version__} (database schema {written})\n"


@pytest.mark.parametrize(
    ("variable", "fragment"),
    [("ANTAEUS_DB", "ANTAEUS_DB is set but empty"), ("ANTAEUS_PROVIDER", "ANTAEUS_PROVIDER")],
)
def test_a_set_but_empty_variable_is_refused_not_defaulted(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    fragment: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, "")
    result = runner.invoke(app, ["bill"])
    assert result.exit_code == ExitCode.USAGE
    assert_one_line_error(result.stderr, fragment)


def test_an_empty_dunning_variable_means_no_retries(
    runner: CliRunner, seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTAEUS_DUNNING", "")
    code, out, _ = run(runner, seeded, "bill", "--as-of", "2026-12-01", "--json")
    assert code == ExitCode.NEEDS_OPERATOR
    counts = json.loads(out)["counts"]
    assert (counts["declined"], counts["uncollectible"]) == (0, 1)


def test_an_empty_db_option_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--db", "", "report"])
    assert result.exit_code == ExitCode.USAGE
    assert_one_line_error(result.stderr, "set but empty")


def test_seeding_into_a_missing_directory_names_it(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, tmp_path / "nowhere" / "antaeus.db", "seed")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, f"directory '{tmp_path / 'nowhere'}' does not exist")
    assert not (tmp_path / "nowhere").exists()


def test_repeated_forced_seeds_keep_every_replaced_file(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    for customers in ("1", "2", "3"):
        code, _, err = run(runner, db, "seed", "--force", "--customers", customers)
        assert code == ExitCode.OK, err
    kept = sorted(p.name for p in tmp_path.glob("antaeus.db.replaced-*") if "-wal" not in p.name)
    assert len(kept) == 2


def test_the_guard_rails_are_shown_by_a_dry_run_and_set_by_options(
    runner: CliRunner, tmp_path: Path
) -> None:
    db = tmp_path / "antaeus.db"
    code, _, err = run(runner, db, "seed", "--from", str(ROOT / "fixtures" / "guard-rails.json"))
    assert code == ExitCode.OK, err
    code, out, err = run(runner, db, "bill", "--as-of", "2026-12-01", "--dry-run", "--json")
    assert code == ExitCode.OK, err
    held = {item["invoice_id"]: item["code"] for item in json.loads(out)["needs_operator"]}
    assert held == {1: "amount_anomaly", 5: "duplicate_period", 6: "duplicate_period"}
    code, out, err = run(
        runner, db, "bill", "--as-of", "2026-12-01", "--json", "--anomaly-factor", "0"
    )
    assert code == ExitCode.NEEDS_OPERATOR, err
    payload = json.loads(out)
    assert payload["counts"]["paid"] == 2  # invoice 1 too: the guard was off
    assert payload["counts"]["needs_operator"] == 2


def test_a_relay_that_refuses_every_recipient_fails_no_notice_and_exits_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A relay that wants AUTH answers `554 5.7.1 Relay access denied` to every
    recipient: the channel's failure, not the notices'. Exit 2 with the server's words,
    every notice still pending with no try spent; once AUTH is fixed, all of them go."""
    seeded = tmp_path / "antaeus.db"
    run(runner, seeded, "seed", "--customers", "8", "--seed", "1", "--as-of", "2026-12-01")
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    with smtp_server() as (port, box):
        box.refuse_every_rcpt = "554 5.7.1 <c1@example.com>: Relay access denied"
        spec = f"smtp://127.0.0.1:{port}?from=billing@example.com&operator=ops@example.com"
        code, out, err = run(runner, seeded, "notify", "--notify", spec, "--json")
        assert code == ExitCode.USAGE, err
        payload = json.loads(out)
        assert payload["channel_refused"] is True
        assert payload["failed"] == 0
        assert "Relay access denied" in payload["stop_reason"]
        with closing(sqlite3.connect(seeded)) as conn:
            assert conn.execute(
                "SELECT DISTINCT status, tries FROM notification WHERE recipient IS NOT NULL"
            ).fetchall() == [("pending", 0)]
        box.refuse_every_rcpt = None
        code, out, err = run(runner, seeded, "notify", "--notify", spec)
        assert code == ExitCode.OK, err
        assert box.messages


def test_notify_delivers_into_a_maildir_and_says_how_many(
    runner: CliRunner, seeded: Path, tmp_path: Path
) -> None:
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    spec = f"maildir://{tmp_path}/mail?from=billing@example.com&operator=ops@example.com"
    code, out, err = run(runner, seeded, "notify", "--notify", spec)
    assert code == ExitCode.OK, err
    assert "notify via maildir://" in out
    assert " sent, " in out
    assert len(list((tmp_path / "mail" / "new").iterdir())) > 0
    code, out, _ = run(runner, seeded, "notify", "--notify", spec)
    assert code == ExitCode.OK
    assert out.startswith(f"notify via maildir://{tmp_path}/mail")
    assert ": 0 sent" in out


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "no notify channel"),
        ("carrier-pigeon://x", "unknown notify channel"),
        (
            "smtp://user:hunter2@mail.example.com?from=b@example.com&operator=ops@example.com",
            "carries credentials",
        ),
        (
            "smtp://mail.example.com?from=b@example.com&operator=ops@example.com&password=hunter2",
            "carries credentials",
        ),
        ("smtp://mail.example.com", "needs from=ADDRESS"),
        (
            "smtp://mail.example.com?from=b@example.com",
            "needs operator=ADDRESS, e.g. operator=billing@example.com: the operator's address",
        ),
        ("maildir://mail?from=b@example.com", "needs operator=ADDRESS"),
        (
            "smtp://mail.example.com?from=b@example.com%0d%0aBcc:x&operator=ops@example.com",
            "not one plain e-mail address",
        ),
        (
            "smtp://mail.example.com?from=b@example.com&operator=ops@example.com&colour=red",
            "unknown parameter 'colour'",
        ),
        ("webhook://hooks.example.com/x", "needs secret_file=FILE"),
        ("webhook://hooks.example.com/x?secret_file=/nonexistent", "cannot read the file"),
        ("maildir://?from=b@example.com&operator=ops@example.com", "needs a path"),
        ("webhook://127.0.0.1:9/x?secret_file=%00&http=1", "cannot read the file"),
        ("smtp://[::1", "is not a URL"),
        (
            "smtp://127.0.0.1:0?from=b@example.com&operator=ops@example.com",
            "port is not one to connect to",
        ),
        ("smtp://127.0.0.1:99999?from=b@example.com&operator=ops@example.com", "is not a URL"),
    ],
)
def test_a_bad_notify_spec_is_a_one_line_usage_error(
    runner: CliRunner, seeded: Path, spec: str, fragment: str
) -> None:
    code, _, err = run(runner, seeded, "notify", "--notify", spec)
    assert code == ExitCode.USAGE
    assert_one_line_error(err, fragment)
    assert "hunter2" not in err


def test_plain_http_webhooks_only_to_loopback(
    runner: CliRunner, seeded: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    spec = f"webhook://hooks.example.com/x?secret_file={secret}&http=1"
    code, _, err = run(runner, seeded, "notify", "--notify", spec)
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "only to a loopback address")


@pytest.mark.parametrize(
    "provider", ["sim://[::1", "stripe://x?api_key_file=%00", "sim://host:notaport"]
)
def test_a_provider_spec_that_is_no_url_is_a_usage_error(
    runner: CliRunner, seeded: Path, provider: str
) -> None:
    code, _, err = run(runner, seeded, "bill", "--dry-run", "--provider", provider)
    assert code == ExitCode.USAGE, err
    assert_one_line_error(err, "")


def test_report_refuses_a_limit_sqlite_cannot_hold(runner: CliRunner, seeded: Path) -> None:
    code, _, err = run(runner, seeded, "report", "--limit", "99999999999999999999")
    assert code == ExitCode.USAGE, err


def test_an_instant_bills_each_customer_on_their_own_date(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "antaeus.db"
    fixture = tmp_path / "zones.json"
    fixture.write_text(
        json.dumps(
            {
                "customers": [
                    {"id": 1, "currency": "EUR", "timezone": "Pacific/Auckland"},
                    {"id": 2, "currency": "USD", "timezone": "America/Los_Angeles"},
                    {"id": 3, "currency": "DKK"},
                ],
                "invoices": [
                    {
                        "id": n,
                        "customer_id": n,
                        "amount": 100,
                        "currency": c,
                        "due_date": "2026-12-01",
                    }
                    for n, c in ((1, "EUR"), (2, "USD"), (3, "DKK"))
                ],
            }
        )
    )
    assert run(runner, db, "seed", "--from", str(fixture))[0] == ExitCode.OK
    monkeypatch.setenv("ANTAEUS_TZ", "Europe/Copenhagen")
    code, out, err = run(runner, db, "bill", "--dry-run", "--as-of", "2026-11-30T23:30:00Z")
    assert code == ExitCode.OK, err
    assert "as of 2026-11-30 23:30:00 UTC" in out
    assert "company zone: local date 2026-12-01, 1 invoice due" in out
    assert "zone America/Los_Angeles: local date 2026-11-30, 0 invoices due" in out
    code, out, err = run(runner, db, "bill", "--as-of", "2026-11-30T23:30:00Z", "--json")
    assert code == ExitCode.OK, err
    result = json.loads(out)
    assert (result["as_of"], result["as_of_instant"]) == ("2026-12-01", "2026-11-30T23:30:00+00:00")
    assert result["counts"]["paid"] == 2  # Auckland, and Copenhagen for the customer without a zone
    code, out, err = run(runner, db, "bill", "--as-of", "2026-11-30T23:59:59-08:00", "--json")
    assert json.loads(out)["counts"]["paid"] == 0  # a second before midnight in Los Angeles
    code, out, err = run(runner, db, "bill", "--as-of", "2026-12-01T00:00:00-08:00", "--json")
    assert json.loads(out)["counts"]["paid"] == 1
    monkeypatch.setenv("ANTAEUS_TZ", "Mars/Base")
    code, _, err = run(runner, db, "bill")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "ANTAEUS_TZ: unknown time zone 'Mars/Base'")


def test_a_fixture_with_an_unknown_zone_is_refused_with_where(
    runner: CliRunner, tmp_path: Path
) -> None:
    fixture = tmp_path / "zones.json"
    fixture.write_text(
        json.dumps(
            {"customers": [{"id": 1, "currency": "EUR", "timezone": "CET/Nowhere"}], "invoices": []}
        )
    )
    code, _, err = run(runner, tmp_path / "antaeus.db", "seed", "--from", str(fixture))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "customers[0].timezone: unknown time zone 'CET/Nowhere'")
    fixture.write_text(  # stored as written, so checked as written: no space is stripped
        json.dumps(
            {"customers": [{"id": 1, "currency": "EUR", "timezone": "UTC "}], "invoices": []}
        )
    )
    code, _, err = run(runner, tmp_path / "antaeus.db", "seed", "--from", str(fixture))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "unknown time zone 'UTC '")


@pytest.mark.parametrize(
    "args",
    [
        ("bill", "--as-of", "2099-01-01"),
        ("bill", "--as-of", "2099-01-01T00:00:00Z"),
        ("retry-failed", "--as-of", "2099-01-01"),
        ("retry-failed", "--as-of", "2099-01-01", "--invoice", "1"),
    ],
)
def test_a_pass_never_runs_as_of_a_moment_later_than_now(
    runner: CliRunner, seeded: Path, args: tuple[str, ...]
) -> None:
    """It would charge invoices before they are due; a dry run may look ahead."""
    before = sqlite3.connect(seeded).execute("SELECT count(*) FROM payment_attempt").fetchone()
    code, _, err = run(runner, seeded, *args)
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "is later than now")
    assert sqlite3.connect(seeded).execute("SELECT count(*) FROM payment_attempt").fetchone() == (
        before
    )
    code, out, _ = run(runner, seeded, *args[:3], "--dry-run")
    assert code == ExitCode.OK, out


@pytest.mark.parametrize(
    "args",
    [
        ["--db", "{db}", "report", "--json"],
        ["report", "--db", "{db}", "--json"],
        ["report", "--json", "--db={db}"],
        ["report", "--format", "json"],
    ],
)
def test_db_may_follow_the_command_and_report_takes_json_like_the_others(
    runner: CliRunner, seeded: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(seeded.parent)  # the last form finds ./antaeus.db
    result = runner.invoke(app, [a.replace("{db}", str(seeded)) for a in args])
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["totals"]


def test_report_refuses_two_formats(runner: CliRunner, seeded: Path) -> None:
    code, _, err = run(runner, seeded, "report", "--json", "--format", "csv")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "ask for two formats")


def test_report_lists_the_invoices_waiting_for_their_customer_and_the_retries(
    runner: CliRunner, seeded: Path
) -> None:
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    with sqlite3.connect(seeded) as conn:
        failed = conn.execute(
            "SELECT id, next_retry_on FROM invoice WHERE status = 'FAILED' "
            "ORDER BY next_retry_on, id"
        ).fetchall()
    assert failed
    code, out, err = run(runner, seeded, "report", "--json", "--section", "retries")
    assert code == ExitCode.OK, err
    listed = json.loads(out)["retries"]
    assert [(r["invoice_id"], r["next_retry_on"]) for r in listed] == failed
    assert all(r["amount_formatted"] for r in listed)
    code, out, _ = run(runner, seeded, "report", "--format", "csv", "--section", "retries")
    assert out.splitlines()[0] == (
        "invoice_id,customer_id,amount,currency,amount_formatted,next_retry_on,decline_count,"
        "failure_code"
    )
    assert len(out.splitlines()) == len(failed) + 1
    code, out, _ = run(runner, seeded, "report", "--section", "awaiting-customer")
    assert code == ExitCode.OK
    assert "waiting for the customer" in out


def test_the_runs_table_reads_at_80_columns(
    runner: CliRunner, seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(runner, seeded, "bill", "--as-of", "2026-12-01")
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(runner, seeded, "report", "--section", "runs")
    assert code == ExitCode.OK
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "completed" in out


@pytest.mark.parametrize(
    "provider",
    [
        "stripe://127.0.0.1:9?api_key=sk_test_x",  # meant as a test server: not read
        "stripe://api.example.com/v1?api_key=sk_test_x",
        "stripe://sk_test_x:@127.0.0.1:9?api_key=sk_test_x",
        "sim://elsewhere?seed=1",
        "sim:///tmp/ledger.db",
    ],
)
def test_a_provider_spec_with_a_host_or_a_path_no_provider_reads_is_refused(
    runner: CliRunner, seeded: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider is told where it is by its parameters (stripe's api_base, sim's
    ledger): a host, a path or a user in the spec would be ignored, and the charges
    go elsewhere than the operator meant (api.stripe.com). Refused, for a dry run
    too, without quoting them."""
    monkeypatch.setenv("ANTAEUS_PROVIDER", provider)
    for dry in (["--dry-run"], []):
        code, _, err = run(runner, seeded, "bill", *dry)
        assert code == ExitCode.USAGE, err
        assert_one_line_error(err, "reads no host")
        assert "127.0.0.1" not in err
        assert "sk_test_x" not in err
    with sqlite3.connect(seeded) as conn:
        assert conn.execute("SELECT count(*) FROM payment_attempt").fetchone() == (0,)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["backup", "x.db", "--db"], "'--db' needs a path"),
        (["report", "--db"], "'--db' needs a path"),
        (["--db", "{db}", "backup", "x.db", "--db", "other.db"], "'--db' given twice"),
        (["report", "--db={db}", "--db", "other.db"], "'--db' given twice"),
    ],
)
def test_db_is_never_taken_from_a_command_name_nor_silently_one_of_two(
    runner: CliRunner,
    seeded: Path,
    args: list[str],
    fragment: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(seeded.parent)
    result = runner.invoke(app, [a.replace("{db}", str(seeded)) for a in args])
    assert result.exit_code == ExitCode.USAGE
    assert_one_line_error(result.stderr, fragment)
    assert not (seeded.parent / "x.db").exists()


def test_the_same_db_twice_is_one_db(runner: CliRunner, seeded: Path) -> None:
    result = runner.invoke(app, ["--db", str(seeded), "report", "--db", str(seeded), "--json"])
    assert result.exit_code == ExitCode.OK, result.stderr


def test_a_missing_or_empty_database_points_to_init_before_the_demo(
    runner: CliRunner, tmp_path: Path
) -> None:
    """An operator going live is sent to `init` (an empty production database), not
    only to `seed`, whose demo data may charge through the simulator."""
    missing = tmp_path / "antaeus.db"
    code, _, err = run(runner, missing, "report")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "'antaeus init'")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    code, _, err = run(runner, empty, "report")
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "init")
    assert "seed --force" in err
    assert "demo" in err
