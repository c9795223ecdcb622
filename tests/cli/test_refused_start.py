"""A setting that refuses the start of `bill` or `retry-failed` (a dunning schedule,
a company zone, a run cap, a metrics file, a provider, a failpoint that cannot be
used) stops billing as any pass refused before it began: exit 2 and its one line,
and, where a database can be opened, a failed run with its reason and the operator's
summary of it, delivered by the next `notify`. A cron line that exits 2 every hour
then reaches somebody. A dry run writes nothing; no secret is ever echoed or stored."""

from __future__ import annotations

import email
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from tests.conftest import stored_text

AS_OF = "2026-12-01"
KEY = "sk_live_Q7ZXWVUTSRK"
WITH_A_KEY = f"sim://?api_key={KEY}"


@dataclass(frozen=True)
class Setting:
    name: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    says: str = ""  # in the error line and in the run's reason


SETTINGS = [
    Setting("ANTAEUS_DUNNING", env={"ANTAEUS_DUNNING": "7,3"}, says="ANTAEUS_DUNNING: "),
    Setting("--dunning", ("--dunning", "1,x"), says="--dunning: "),
    Setting(
        "ANTAEUS_TZ",
        env={"ANTAEUS_TZ": "Mars/Base"},
        says="ANTAEUS_TZ: unknown time zone 'Mars/Base'",
    ),
    Setting("--tz", ("--tz", "Europe/Atlantis"), says="--tz: unknown time zone"),
    Setting("--max-total", ("--max-total", "EUR=lots"), says="--max-total: expected CUR=AMOUNT"),
    Setting(
        "--max-total twice",
        ("--max-total", "EUR=1", "--max-total", "EUR=2"),
        says="--max-total: EUR is given twice",
    ),
    Setting(
        "--metrics-file",
        ("--metrics-file", "TMP/missing/bill.prom"),
        says="for --metrics-file does not exist",
    ),
    Setting(
        "ANTAEUS_FAILPOINT", env={"ANTAEUS_FAILPOINT": "somewhere:1"}, says="ANTAEUS_FAILPOINT"
    ),
    Setting("ANTAEUS_PROVIDER", env={"ANTAEUS_PROVIDER": "paypal://live"}, says="unknown provider"),
    Setting(
        "ANTAEUS_PROVIDER empty",
        env={"ANTAEUS_PROVIDER": ""},
        says="ANTAEUS_PROVIDER is set but empty",
    ),
]
COMMANDS = ["bill", "retry-failed"]


@pytest.fixture
def db(runner: CliRunner, tmp_path: Path) -> Path:
    path = tmp_path / "antaeus.db"
    args = ["--db", str(path), "seed", "--customers", "4", "--seed", "3", "--as-of", AS_OF]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.OK, result.stderr
    return path


def refused(
    runner: CliRunner, db: Path, command: str, setting: Setting, *extra: str
) -> tuple[int, str, str]:
    """The command with the bad setting, and a provider key in the environment that
    must never be echoed or stored (unless the provider is the setting at fault)."""
    args = [a.replace("TMP", str(db.parent)) for a in setting.args]
    env = {"ANTAEUS_PROVIDER": WITH_A_KEY, **setting.env}
    result = runner.invoke(
        app, ["--db", str(db), command, "--as-of", AS_OF, *args, *extra], env=env
    )
    return result.exit_code, result.stdout, result.stderr


def one_line(stderr: str, says: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("antaeus: error: "), stderr
    assert says in lines[0], stderr
    return lines[0]


def table(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def operator_mail(runner: CliRunner, db: Path, mail: Path) -> list[str]:
    """What the next `notify` tells the operator, each e-mail as text."""
    spec = f"maildir://{mail}?from=billing@example.com&operator=ops@example.com"
    result = runner.invoke(app, ["--db", str(db), "notify", "--notify", spec])
    assert result.exit_code == ExitCode.OK, result.stderr
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in (mail / "new").iterdir()
    ]
    return [
        str(message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        for message in messages
        if message["To"] == "ops@example.com"
    ]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_a_bad_setting_is_a_refused_run_with_its_reason_and_the_operator_told(
    runner: CliRunner, db: Path, tmp_path: Path, command: str, setting: Setting
) -> None:
    invoices = table(db, "SELECT * FROM invoice ORDER BY id")
    code, out, err = refused(runner, db, command, setting)
    assert code == ExitCode.USAGE, out + err
    one_line(err, setting.says)
    assert table(db, "SELECT * FROM invoice ORDER BY id") == invoices
    assert table(db, "SELECT count(*) FROM payment_attempt") == [(0,)]
    ((run_id, ran, status, reason, provider),) = table(
        db, "SELECT id, command, status, stop_reason, provider FROM billing_run"
    )
    assert (ran, status) == (command, "failed")
    assert isinstance(reason, str)
    assert reason.startswith("refused before it began: ")
    assert setting.says in reason
    assert table(db, "SELECT run_id FROM notification WHERE kind = 'run_summary'") == [(run_id,)]
    assert table(db, "SELECT count(*) FROM pass_lock") == [(0,)]
    (told,) = operator_mail(runner, db, tmp_path / "mail")
    assert setting.says in told
    assert provider == "sim://?api_key=***" or str(provider).startswith("(")
    assert KEY not in out + err + told
    assert KEY not in stored_text(db)


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_check_names_the_refused_start_of_bill(
    runner: CliRunner, db: Path, setting: Setting
) -> None:
    assert refused(runner, db, "bill", setting)[0] == ExitCode.USAGE
    result = runner.invoke(app, ["--db", str(db), "check"])
    assert result.exit_code != ExitCode.OK
    assert "the latest bill pass did not complete" in result.stdout
    assert setting.says in result.stdout
    assert KEY not in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_a_dry_run_with_a_bad_setting_writes_nothing(
    runner: CliRunner, db: Path, command: str, setting: Setting
) -> None:
    before = db.read_bytes()
    code, out, err = refused(runner, db, command, setting, "--dry-run")
    assert code == ExitCode.USAGE, out + err
    one_line(err, setting.says)
    assert db.read_bytes() == before
    assert KEY not in out + err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_without_a_database_the_setting_is_refused_and_nothing_is_made(
    runner: CliRunner, tmp_path: Path, command: str, setting: Setting
) -> None:
    """No database can record it: the setting's own line, exit 2, and no file made."""
    missing = tmp_path / "none.db"
    code, out, err = refused(runner, missing, command, setting)
    assert code == ExitCode.USAGE, out + err
    one_line(err, setting.says)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_mistyped_moment_is_told_and_recorded_nowhere(
    runner: CliRunner, db: Path, command: str
) -> None:
    """--as-of is the moment asked for, not a setting: a run as of a moment that cannot
    be read, or has not come yet, is no run at all."""
    before = db.read_bytes()
    for moment in ("2026-02-30", "2099-01-01"):
        result = runner.invoke(app, ["--db", str(db), command, "--as-of", moment])
        assert result.exit_code == ExitCode.USAGE
        one_line(result.stderr, "--as-of")
    assert db.read_bytes() == before
