"""Credentials in provider and notify specs, through the real CLI: a key that no HTTP
header or SMTP login can carry is a usage error, a key is hidden by its decoded name,
and no error quotes a credential or a piece of one."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from tests.conftest import stored_text

AS_OF = "2026-12-01"
OLD, NEW = "sk_test_QZXJVKWQPYold", "sk_test_WVQJXZKPMFnew"
# Where nothing listens: a spec refused before any request is never sent anywhere.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def db(runner: CliRunner, tmp_path: Path) -> Path:
    path = tmp_path / "antaeus.db"
    args = ["--db", str(path), "seed", "--customers", "8", "--seed", "3", "--as-of", AS_OF]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.OK, result.stderr
    return path


def cli(runner: CliRunner, db: Path, *args: str, **env: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--db", str(db), *args], env=env)
    return result.exit_code, result.stdout + result.stderr


def refused_and_recorded(db: Path, before: bytes, *, dry_run: bool) -> None:
    """A dry run leaves the file as it was; a pass records its refusal (billing did not
    run, and why), charges nothing, and stores no piece of either key."""
    if dry_run:
        assert db.read_bytes() == before
        return
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM payment_attempt").fetchone() == (0,)
        runs = conn.execute("SELECT status, stop_reason FROM billing_run").fetchall()
    assert [status for status, _ in runs] == ["failed"]
    assert "'api_key_file'" in runs[0][1]
    stored = stored_text(db)
    assert "QZXJVKWQPY" not in stored
    assert "WVQJXZKPMF" not in stored


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("antaeus: error: "), output
    return lines[0]


@pytest.mark.parametrize("dry_run", [False, True], ids=["bill", "dry-run"])
@pytest.mark.parametrize(
    "spec",
    [f"stripe://?api_base={NOWHERE}&api_key_file=KEY", "sim://?api_key_file=KEY&seed=1"],
    ids=["stripe", "sim"],
)
def test_a_key_file_of_two_lines_is_a_usage_error_that_shows_neither_key(
    runner: CliRunner, db: Path, tmp_path: Path, spec: str, dry_run: bool
) -> None:
    key = tmp_path / "key"
    key.write_text(f"{OLD}\n{NEW}\n")  # the old key and the new, mid-rotation
    spec = spec.replace("KEY", str(key))
    before = db.read_bytes()
    code, output = cli(
        runner, db, "bill", "--as-of", AS_OF, *(["--dry-run"] * dry_run), "--provider", spec
    )
    assert code == ExitCode.USAGE, output
    line = one_line_error(output)
    assert "'api_key_file'" in line
    assert "2 lines" in line
    assert "QZXJVKWQPY" not in output
    assert "WVQJXZKPMF" not in output
    refused_and_recorded(db, before, dry_run=dry_run)


@pytest.mark.parametrize("dry_run", [False, True], ids=["bill", "dry-run"])
@pytest.mark.parametrize(
    "spec",
    [f"stripe://?api_base={NOWHERE}&api_key_file=KEY", "sim://?api_key_file=KEY&seed=1"],
    ids=["stripe", "sim"],
)
@pytest.mark.parametrize("between", [" ", "   "], ids=["space", "spaces"])
def test_a_key_file_of_two_keys_on_one_line_is_a_usage_error_that_shows_neither(
    runner: CliRunner, db: Path, tmp_path: Path, spec: str, dry_run: bool, between: str
) -> None:
    key = tmp_path / "key"
    key.write_text(f"{OLD}{between}{NEW}\n")  # the old key and the new, on one line
    spec = spec.replace("KEY", str(key))
    before = db.read_bytes()
    code, output = cli(
        runner, db, "bill", "--as-of", AS_OF, *(["--dry-run"] * dry_run), "--provider", spec
    )
    assert code == ExitCode.USAGE, output
    line = one_line_error(output)
    assert "'api_key_file'" in line
    assert "2 words" in line
    assert "QZXJVKWQPY" not in output
    assert "WVQJXZKPMF" not in output
    refused_and_recorded(db, before, dry_run=dry_run)


def test_two_keys_given_inline_are_refused_too(runner: CliRunner, db: Path) -> None:
    spec = f"stripe://?api_base={NOWHERE}&api_key={OLD}%20{NEW}"
    code, output = cli(runner, db, "bill", "--as-of", AS_OF, ANTAEUS_PROVIDER=spec)
    assert code == ExitCode.USAGE, output
    assert "'api_key'" in one_line_error(output)
    assert "QZXJVKWQPY" not in output
    assert "WVQJXZKPMF" not in output


def test_a_password_may_hold_spaces(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    """A password is not a key: 'correct horse battery staple' is one password. The
    notify spec is read, and the run goes as far as the mail server (none listens)."""
    secret = tmp_path / "password"
    secret.write_text("correct horse battery staple\n")
    spec = (
        f"smtp://billing@127.0.0.1:9?from=b@example.com&operator=ops@example.com&password_file={secret}"
        "&auth_without_tls=loopback"
    )
    code, output = cli(runner, db, "notify", "--dry-run", "--notify", spec)
    assert code == ExitCode.OK, output
    assert "horse" not in output


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            "smtp://u@mail.example.com?from=b@example.com&operator=ops@example.com",
            "would cross the network in clear",
        ),
        (
            "smtp://u@127.0.0.1?from=b@example.com&operator=ops@example.com",
            "would cross the network in clear",
        ),
        (
            "smtp://u@mail.example.com?from=b@example.com&operator=ops@example.com&auth_without_tls=loopback",
            "the smtp:// host is not a loopback address",
        ),
        (
            "smtp://u@127.0.0.1?from=b@example.com&operator=ops@example.com&auth_without_tls=yes",
            "auth_without_tls must be loopback or trusted",
        ),
        (
            "smtp://u@mail.example.com?from=b@example.com&operator=ops@example.com&auth_without_tls=trusted",
            None,
        ),
        (
            "smtp://u@127.0.0.1?from=b@example.com&operator=ops@example.com&auth_without_tls=loopback",
            None,
        ),
        ("smtp://u@mail.example.com?from=b@example.com&operator=ops@example.com&starttls=1", None),
        ("smtps://u@mail.example.com?from=b@example.com&operator=ops@example.com", None),
    ],
)
def test_auth_never_crosses_without_tls_unless_the_spec_says_why(
    runner: CliRunner, db: Path, spec: str, fragment: str | None
) -> None:
    """A user means AUTH; without TLS (starttls=1, smtps://) the password would go in
    clear. Refused before anything connects, unless the spec says, in its own word, that
    the relay is on this machine (and it is) or on a network the operator trusts."""
    code, output = cli(runner, db, "notify", "--dry-run", ANTAEUS_NOTIFY=spec + "&password=SECRET9")
    if fragment is None:
        assert code == ExitCode.OK, output
    else:
        assert code == ExitCode.USAGE, output
        assert fragment in one_line_error(output)
    assert "SECRET9" not in output


@pytest.mark.parametrize(
    "content",
    [
        f"{OLD}\r\n{NEW}",
        f"{OLD}\x00",
        f"{OLD}\tx",
        f"{OLD}\u2028{NEW}",
        f"{OLD}é",
        f"{OLD}\x7f",
    ],
    ids=["crlf", "nul", "tab", "line-separator", "non-ascii", "delete"],
)
def test_a_key_no_http_header_can_carry_is_a_usage_error(
    runner: CliRunner, db: Path, tmp_path: Path, content: str
) -> None:
    key = tmp_path / "key"
    key.write_text(content, encoding="utf-8")
    spec = f"stripe://?api_base={NOWHERE}&api_key_file={key}"
    code, output = cli(runner, db, "bill", "--as-of", AS_OF, "--provider", spec)
    assert code == ExitCode.USAGE, output
    one_line_error(output)
    assert "QZXJVKWQPY" not in output


@pytest.mark.parametrize("encoded", ["%0A", "%0D%0A", "%00", "%C3%A9", "%09"])
def test_a_key_given_inline_is_held_to_the_same_rule(
    runner: CliRunner, db: Path, encoded: str
) -> None:
    spec = f"stripe://?api_base={NOWHERE}&api_key=sk_test_QZXJVKWQPY{encoded}WVQJXZKPMF"
    code, output = cli(runner, db, "bill", "--as-of", AS_OF, ANTAEUS_PROVIDER=spec)
    assert code == ExitCode.USAGE, output
    assert "'api_key'" in one_line_error(output)
    assert "QZXJVKWQPY" not in output
    assert "WVQJXZKPMF" not in output


@pytest.mark.parametrize(
    "name", ["api_ke%79", "%61%70%69%5f%6b%65%79", "API%5Fkey".lower(), "api%5Fkey"]
)
def test_a_key_is_hidden_by_its_decoded_name_everywhere(
    runner: CliRunner, db: Path, name: str
) -> None:
    env = {"ANTAEUS_PROVIDER": f"sim://?{name}=sk_test_QZXJVKWQPY&seed=1"}
    code, out = cli(runner, db, "bill", "--as-of", AS_OF, "--json", **env)
    assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), out
    assert json.loads(out)["provider"] == "sim://?api_key=***&seed=1"
    shown = [out]
    for fmt in ("table", "json", "csv"):
        for section in ([], ["--section", "runs"]):
            code, report = cli(runner, db, "report", "--format", fmt, *section)
            assert code == ExitCode.OK, report
            shown.append(report)
    ledger = db.with_name("antaeus.provider.db")
    shown.append(stored_text(db, ledger))
    assert "api_key=***" in stored_text(db)
    assert not [text for text in shown if "QZXJVKWQPY" in text]


# Specs that hold a credential, or pieces of one (SECRETn), where an error might quote
# them: misspelt names, a '#', '/' or '?' in a value or a password, a stray '&'.
PROVIDER_SPECS = [
    "sim://?pasword=SECRET1",
    "sim://?api_kee=SECRET1",
    "stripe://?api_kee=SECRET1",
    "sim://?api_key=SECRET1#SECRET2",
    "sim://user:SECRET1/SECRET2@host?seed=1",
    "sim://user:SECRET1?SECRET2@host",
    "sim://user:12/SECRET1@host?seed=1",
    "sim://?api_key=SECRET1&SECRET2=x",
    "sim://?api_key=SECRET1&api_key=SECRET2",
    "sim://?api_key=SECRET1&api_ke%79=SECRET2",
    "sim://?api_key=SECRET1&api_key_file=/SECRET2",
    "sim://?seed=SECRET1",
    "sim://?network_error_rate=SECRET1",
    "sim://?api_key_file=/nonexistent/SECRET1",
    "paypal://?api_key=SECRET1",
    f"stripe://?api_base={NOWHERE}&api_key=sk_test_x&transport=SECRET1",
    "stripe://?api_base=https://user:SECRET1@127.0.0.1&api_key=sk_test_x",
    "stripe://?api_base=http://[::1&api_key=SECRET1",
    "stripe://?api_base=SECRET1/SECRET2&api_key=sk_test_x",
]
NOTIFY_SPECS = [
    "smtp://mail.example.com?from=b@example.com&operator=ops@example.com&pasword=SECRET1",
    "smtp://user:SECRET1/SECRET2@mail.example.com?from=b@example.com&operator=ops@example.com",
    "smtp://user:SECRET1?SECRET2@mail.example.com",
    "smtp://user:SECRET1#SECRET2@mail.example.com?from=b@example.com&operator=ops@example.com",
    "smtp://user:25/SECRET1@mail.example.com?from=b@example.com&operator=ops@example.com",
    "smtp://user:SECRET1%0ASECRET2@mail.example.com?from=b@example.com&operator=ops@example.com",
    "smtp://user@mail.example.com?from=b@example.com&operator=ops@example.com&password=SECRET1%C3%A9",
    "smtp://mail.example.com?from=SECRET1/SECRET2&operator=ops@example.com",
    "smtp://mail.example.com?from=b@example.com&operator=ops@example.com&starttls=SECRET1",
    "smtp://mail.example.com?from=b@example.com&operator=ops@example.com&password=SECRET1&password=SECRET2",
    "webhook://127.0.0.1:9/x?http=1&secret=SECRET1&timeout=SECRET2",
    "carrier-pigeon://?password=SECRET1",
]


@pytest.mark.parametrize("spec", PROVIDER_SPECS)
def test_no_provider_spec_error_quotes_a_credential(runner: CliRunner, db: Path, spec: str) -> None:
    code, output = cli(runner, db, "bill", "--as-of", AS_OF, ANTAEUS_PROVIDER=spec)
    assert code == ExitCode.USAGE, output
    one_line_error(output)
    assert not re.findall(r"SECRET\d", output)


@pytest.mark.parametrize("spec", NOTIFY_SPECS)
def test_no_notify_spec_error_quotes_a_credential(runner: CliRunner, db: Path, spec: str) -> None:
    code, output = cli(runner, db, "notify", ANTAEUS_NOTIFY=spec)
    assert code == ExitCode.USAGE, output
    one_line_error(output)
    assert not re.findall(r"SECRET\d", output)


def test_a_spec_on_the_command_line_names_its_credentials_not_their_values(
    runner: CliRunner, db: Path
) -> None:
    spec = "sim://?api_ke%79=SECRET1&seed=1"
    code, output = cli(runner, db, "bill", "--as-of", AS_OF, "--provider", spec)
    assert code == ExitCode.USAGE, output
    assert "carries credentials ('api_key')" in one_line_error(output)
    assert "SECRET1" not in output


@pytest.mark.parametrize("kind", ["a device without end", "a pipe without a writer", "too big"])
@pytest.mark.parametrize("spec", ["webhook", "smtp"])
def test_a_secret_file_that_is_no_small_regular_file_is_refused_at_once(
    runner: CliRunner, db: Path, tmp_path: Path, kind: str, spec: str
) -> None:
    """secret_file=/dev/zero would be read for ever, a FIFO nobody writes to would be
    waited on for ever, a file of megabytes is no credential: each is refused at once,
    before anything connects, naming the parameter."""
    import os
    import time

    if kind == "a device without end":
        path = Path("/dev/zero")
    elif kind == "a pipe without a writer":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    else:
        path = tmp_path / "big"
        path.write_bytes(b"x" * (1 << 20))
    name = "secret_file" if spec == "webhook" else "password_file"
    text = (
        f"webhook://127.0.0.1:9/x?http=1&secret_file={path}"
        if spec == "webhook"
        else f"smtps://u@127.0.0.1:9?from=b@example.com&operator=o@example.com&{name}={path}"
    )
    started = time.monotonic()
    code, output = cli(runner, db, "notify", "--dry-run", ANTAEUS_NOTIFY=text)
    assert time.monotonic() - started < 5
    assert code == ExitCode.USAGE, output
    assert f"'{name}'" in one_line_error(output)
