"""`notify --check-templates`, `notify --preview` and `--templates` as an operator uses
them; `import` reads a customer's locale."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from typer.testing import CliRunner

from antaeus_cli.cli.exit_codes import ExitCode
from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_json_schema import valid
from tests.servers.smtp import smtp_server

SPEC = "maildir://{mail}?from=billing@example.com&operator=ops@example.com"


def branded(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    (folder / "da").mkdir(parents=True)
    (folder / "branding.toml").write_text(
        'company = "Øresund ApS"\nsender_name = "Øresund Billing"\n'
        'reply_to = "help@example.com"\n'
        'payment_url = "https://pay.example.com/u?c={customer_id}"\nlocale = "en-GB"\n',
        encoding="utf-8",
    )
    return folder


def test_check_templates_passes_the_built_in_ones_and_names_a_typo(
    runner: CliRunner, tmp_path: Path
) -> None:
    code, out, err = run(runner, tmp_path / "none.db", "notify", "--check-templates", "--json")
    assert code == ExitCode.OK, err
    checked = json.loads(out)
    valid("check-templates", checked)
    assert (checked["ok"], checked["languages"]) == (True, ["da", "de", "en", "sv"])

    folder = branded(tmp_path)
    (folder / "da" / "final_notice.html").write_text(
        '{% extends "layout.html" %}{% block body %}{{ amount|bogus }}{% endblock %}'
    )
    code, out, _ = run(runner, tmp_path / "none.db", "notify", "--templates", str(folder),
                       "--check-templates")  # fmt: skip
    assert code == ExitCode.USAGE
    assert "da/final_notice.html" in out
    assert "bogus" in out

    db = tmp_path / "antaeus.db"
    run(runner, db, "seed", "--customers", "3", "--seed", "1", "--as-of", "2026-12-01")
    run(runner, db, "bill", "--as-of", "2026-12-01")
    spec = SPEC.format(mail=tmp_path / "mail")
    code, _, err = run(runner, db, "notify", "--notify", spec, "--templates", str(folder))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "bogus")
    assert "--check-templates" in err
    with closing(sqlite3.connect(db)) as conn:  # nothing was claimed, nothing tried
        assert conn.execute("SELECT max(tries) FROM notification").fetchone() == (0,)


def test_a_branded_danish_e_mail_goes_through_a_real_smtp_server(
    runner: CliRunner, tmp_path: Path
) -> None:
    db = tmp_path / "antaeus.db"
    run(runner, db, "seed", "--customers", "2", "--seed", "1", "--as-of", "2026-12-01")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE customer SET locale = 'da-DK'")
    folder = branded(tmp_path)
    with smtp_server() as (port, box):
        spec = f"smtp://127.0.0.1:{port}?from=billing@example.com&operator=ops@example.com"
        code, out, err = run(runner, db, "notify", "--notify", spec, "--templates",
                             str(folder), "--preview", "--customer", "1", "--kind",
                             "payment_failed")  # fmt: skip
        assert code == ExitCode.OK, err
        assert "From: Øresund Billing <billing@example.com>" in out
        assert "Reply-To: help@example.com" in out
        assert "Subject: Betalingen for faktura" in out
        assert "https://pay.example.com/u?c=1" in out
        assert "a specimen on invoice" in err
        assert box.messages == []  # a preview sends nothing

        run(runner, db, "bill", "--as-of", "2026-12-01", "--provider", "sim://?seed=1")
        code, _, err = run(runner, db, "notify", "--notify", spec, "--templates", str(folder))
        assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), err
        customers = [m for m in box.messages if "ops@example.com" not in m["To"]]
        assert customers
        for mail in customers:
            assert mail["From"] == "Øresund Billing <billing@example.com>"
            assert mail["Reply-To"] == "help@example.com"
            text = mail.get_body(("plain",)).get_content()
            assert "Øresund ApS" in text
            assert str(mail["Subject"]).startswith(("Kvittering for faktura", "Betalingen for"))

        code, out, err = run(runner, db, "notify", "--notify", spec, "--templates",
                             str(folder), "--preview", "--customer", "999", "--kind",
                             "receipt")  # fmt: skip
        assert code == ExitCode.USAGE
        assert "no customer 999" in err
        code, _, err = run(runner, db, "notify", "--notify", spec, "--preview", "--customer", "1")
        assert code == ExitCode.USAGE
        assert "--kind" in err
        code, _, err = run(runner, db, "notify", "--notify", spec, "--customer", "1")
        assert code == ExitCode.USAGE
        assert "add --preview" in err


def test_templates_set_but_empty_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    run(runner, db, "seed", "--customers", "1", "--seed", "1", "--as-of", "2026-12-01")
    spec = SPEC.format(mail=tmp_path / "mail")
    result = runner.invoke(
        __import__("antaeus_cli.cli.app", fromlist=["app"]).app,
        ["--db", str(db), "notify", "--notify", spec],
        env={"ANTAEUS_TEMPLATES": " "},
    )
    assert result.exit_code == ExitCode.USAGE
    assert "ANTAEUS_TEMPLATES is set but empty" in result.stderr
