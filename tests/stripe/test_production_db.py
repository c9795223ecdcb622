"""A production database from `antaeus init`, its rows written by SQL as an upstream
system would, charged through the Stripe-shaped server: the one provider it accepts,
and one account of it, in one mode. The first pass binds the database to the account
its key charges into; a key of another account or of the other mode is refused
before anything is claimed."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.store.schema import statements
from tests.cli.test_purpose import AS_OF, add_invoice
from tests.stripe.conftest import Shaped


@pytest.fixture
def production(tmp_path: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ANTAEUS_DB", "ANTAEUS_DUNNING", "ANTAEUS_TZ", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    db = tmp_path / "prod.db"
    assert CliRunner().invoke(app, ["--db", str(db), "init"]).exit_code == ExitCode.OK
    add_invoice(db)
    shaped.customers({"cus_1": "pm_card_visa"})
    return db


def bill(db: Path, spec: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setenv("ANTAEUS_PROVIDER", spec)
    result = CliRunner().invoke(app, ["--db", str(db), "bill", "--as-of", AS_OF, "--json"])
    return result.exit_code, result.stdout, result.stderr


def documented_inserts() -> str:
    """The statements docs/importing.md gives an upstream system that writes by SQL."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "importing.md").read_text()
    section = page.split("## With SQL", 1)[1]
    found = re.search(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    assert found is not None, "docs/importing.md: no SQL under 'With SQL'"
    return found.group(1)


def meta(db: Path, key: str) -> object:
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def attempts(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM payment_attempt").fetchone()[0])


def test_the_first_pass_binds_the_account_and_charges(
    production: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = bill(production, shaped.spec(), monkeypatch)
    assert code == ExitCode.OK, err
    assert json.loads(out)["counts"]["paid"] == 1
    assert sorted(shaped.succeeded_per_invoice()) == [1]
    assert meta(production, "provider_account") == "stripe acct_antaeus test"
    code, _, err = bill(production, shaped.spec(), monkeypatch)  # the same account again
    assert code == ExitCode.OK, err


@pytest.mark.parametrize(
    ("key", "found"),
    [
        ("sk_test_other", "stripe account acct_other in test mode"),
        ("sk_live_antaeus", "stripe account acct_antaeus in live mode"),
    ],
    ids=["another-account", "another-mode"],
)
def test_a_key_of_another_account_or_mode_is_refused_before_anything_is_claimed(
    production: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch, key: str, found: str
) -> None:
    with sqlite3.connect(production) as conn:  # bound by an earlier pass
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('provider_account', 'stripe acct_antaeus test')"
        )
    code, out, err = bill(production, shaped.spec().replace("sk_test_antaeus", key), monkeypatch)
    assert code == ExitCode.USAGE, out + err
    assert "charges through stripe account acct_antaeus in test mode" in err
    assert f"the key given is for {found}" in err
    assert key not in err
    assert attempts(production) == 0
    assert shaped.intents() == []
    assert meta(production, "provider_account") == "stripe acct_antaeus test"


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("noaccount", "refused to name the account of the key (GET /v1/account"),
        ("noroute", "refused GET /v1/account (HTTP 404 with an answer that is not JSON)"),
    ],
    ids=["a Stripe error", "a page that is not JSON"],
)
def test_a_server_that_cannot_name_the_account_charges_nothing_on_a_production_database(
    production: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch, name: str, said: str
) -> None:
    """A usage error, which asking again will not mend: not "try again later"."""
    spec = shaped.spec().replace("sk_test_antaeus", f"sk_test_{name}")
    code, out, err = bill(production, spec, monkeypatch)
    assert code == ExitCode.USAGE, out + err
    assert said in err
    assert "try again" not in err
    assert attempts(production) == 0
    assert meta(production, "provider_account") is None


def test_a_demo_database_is_never_bound(
    tmp_path: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "demo.db"
    runner = CliRunner()
    assert runner.invoke(app, ["--db", str(db), "seed", "--customers", "0"]).exit_code == 0
    add_invoice(db)
    shaped.customers({"cus_1": "pm_card_visa"})
    code, _, err = bill(
        db, shaped.spec().replace("sk_test_antaeus", "sk_test_noaccount"), monkeypatch
    )
    assert code == ExitCode.OK, err
    assert meta(db, "provider_account") is None


def test_a_refused_key_or_another_account_is_recorded_as_a_run_with_its_summary(
    production: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = bill(
        production, shaped.spec().replace("sk_test_antaeus", "bad_key"), monkeypatch
    )
    assert code == ExitCode.USAGE, err
    assert "bad_key" not in err
    code, _, _ = bill(production, shaped.spec(), monkeypatch)  # binds acct_antaeus
    assert code == ExitCode.OK
    code, _, _ = bill(production, shaped.spec().replace("antaeus", "other"), monkeypatch)
    assert code == ExitCode.USAGE
    with sqlite3.connect(production) as conn:
        runs = conn.execute("SELECT status, stop_reason FROM billing_run ORDER BY id").fetchall()
        summaries = conn.execute(
            "SELECT run_id FROM notification WHERE kind = 'run_summary' ORDER BY run_id"
        ).fetchall()
    assert [status for status, _ in runs] == ["failed", "completed", "failed"]
    assert runs[0][1].startswith("refused before it began: Stripe refused the API key (401")
    assert "bad_key" not in runs[0][1]
    assert "the key given is for stripe account acct_other" in runs[2][1]
    assert summaries == [(1,), (3,)]


def test_a_restored_database_charges_nobody_twice_after_the_key_is_forgotten(
    production: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Back up, bill, restore, bill again past Stripe's key retention: without the
    check the second pass would send the same keys as new charges."""
    with closing(sqlite3.connect(production)) as conn, conn:  # November's, December's
        conn.execute("UPDATE invoice SET due_date = '2026-11-01' WHERE id = 1")
        conn.execute(
            "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
            "decline_count, created_at, updated_at) VALUES (2, 1, 1500, 'EUR', 'PENDING', "
            "'2026-12-01', 0, '2026-11-15T00:00:00+00:00', '2026-11-15T00:00:00+00:00')"
        )
    runner = CliRunner()
    monkeypatch.setenv("ANTAEUS_PROVIDER", shaped.spec())
    result = runner.invoke(app, ["--db", str(production), "bill", "--as-of", "2026-11-01"])
    assert result.exit_code == ExitCode.OK, result.stderr  # November: invoice 1
    backup = tmp_path / "before-december.db"
    assert runner.invoke(app, ["--db", str(production), "backup", str(backup)]).exit_code == 0
    result = runner.invoke(app, ["--db", str(production), "bill", "--as-of", "2026-12-01"])
    assert result.exit_code == ExitCode.OK, result.stderr  # December: invoice 2
    assert sorted(shaped.succeeded_per_invoice().items()) == [(1, 1), (2, 1)]

    shaped.advance(hours=25)  # the provider has forgotten both keys
    for side in ("-wal", "-shm"):
        Path(f"{production}{side}").unlink(missing_ok=True)
    restored = production.with_name("restoring.db")
    restored.write_bytes(backup.read_bytes())
    os.replace(restored, production)  # restored: December's charge forgotten
    result = runner.invoke(app, ["--db", str(production), "bill", "--as-of", "2026-12-01"])
    assert result.exit_code == ExitCode.USAGE, result.stdout
    assert "that its ledger does not know" in result.stderr
    assert "looks restored from a backup" in result.stderr
    assert sorted(shaped.succeeded_per_invoice().items()) == [(1, 1), (2, 1)]  # once each
    with sqlite3.connect(production) as conn:
        assert conn.execute("SELECT status FROM invoice WHERE id = 2").fetchone() == ("PENDING",)
        assert conn.execute("SELECT count(*) FROM payment_attempt").fetchone() == (1,)
    # an attempt of invoice 2 left open by hand: the forgotten charge cannot be recorded
    # beside it (one open attempt an invoice), and reconcile says why
    with closing(sqlite3.connect(production)) as conn, conn:
        conn.execute(
            "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, "
            "idempotency_key, run_id, command, amount, currency, from_status, started_at, "
            "period) VALUES (2, 1, 7, 'by-hand-2-7', 1, 'bill', 1500, 'EUR', 'PENDING', "
            "'2026-12-01T00:00:00+00:00', '2026-12')"
        )
    result = runner.invoke(app, ["--db", str(production), "reconcile"])
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "not recorded (its invoice has another charge open: settle that one first" in (
        result.stdout
    )
    result = runner.invoke(app, ["--db", str(production), "reconcile", "--json"])
    refused = json.loads(result.stdout)
    assert refused["refused"] == [stripe_key(shaped, 2)]
    assert refused["why"][stripe_key(shaped, 2)].startswith("its invoice has another charge open")
    with closing(sqlite3.connect(production)) as conn, conn:
        conn.execute(
            "UPDATE payment_attempt SET outcome = 'lapsed', finished_at = '2026-12-01T00:00:01"
            "+00:00', error = 'settled by hand: no charge under the key' WHERE id = 2"
        )
    # reconcile reads the forgotten charge back; the next pass settles it by its key
    result = runner.invoke(app, ["--db", str(production), "reconcile", "--json"])
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["adopted"] == [stripe_key(shaped, 2)]
    result = runner.invoke(app, ["--db", str(production), "bill", "--as-of", "2026-12-01",
                                 "--json"])  # fmt: skip
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["counts"]["reconciled"] == 1
    assert sorted(shaped.succeeded_per_invoice().items()) == [(1, 1), (2, 1)]  # still once
    with closing(sqlite3.connect(production)) as conn:
        assert conn.execute("SELECT id, status FROM invoice ORDER BY id").fetchall() == [
            (1, "PAID"),
            (2, "PAID"),
        ]
        assert conn.execute("SELECT count, amount FROM collected").fetchall() == [(2, 3000)]


def stripe_key(server: Shaped, invoice: int) -> str:
    """The idempotency key the server holds for the invoice's charge."""
    (key,) = {
        intent["metadata"]["antaeus_key"]
        for intent in server.intents()
        if intent["metadata"].get("antaeus_invoice_id") == str(invoice)
    }
    return str(key)


def test_the_documented_inserts_load_a_new_database_and_the_next_pass_charges_the_invoice(
    tmp_path: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upstream system writes the smallest INSERTs the docs give, no timestamps
    among them, into a database `antaeus init` made; the next `bill` charges it."""
    for name in ("ANTAEUS_DB", "ANTAEUS_DUNNING", "ANTAEUS_TZ", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "prod.db"
    assert CliRunner().invoke(app, ["--db", str(db), "init"]).exit_code == ExitCode.OK
    with closing(sqlite3.connect(db)) as conn, conn:
        for statement in statements(documented_inserts()):
            conn.execute(statement)
    with closing(sqlite3.connect(db)) as conn:
        ((ref,),) = conn.execute("SELECT provider_ref FROM customer").fetchall()
        ((due, amount, created),) = conn.execute(
            "SELECT due_date, amount, created_at FROM invoice"
        ).fetchall()
    shaped.customers({ref: "pm_card_visa"})

    monkeypatch.setenv("ANTAEUS_PROVIDER", shaped.spec())
    result = CliRunner().invoke(app, ["--db", str(db), "bill", "--as-of", due, "--json"])
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["counts"]["paid"] == 1
    assert sorted(shaped.succeeded_per_invoice().items()) == [(1, 1)]
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT status, created_at FROM invoice").fetchall() == [
            ("PAID", created)
        ]
        assert conn.execute("SELECT amount FROM collected").fetchall() == [(amount,)]


def test_a_dry_run_holds_what_stripe_would_refuse_as_the_pass_holds_it(
    tmp_path: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole krónur and three-decimal steps are Stripe's rules: a rehearsal through the
    same provider setting shows those invoices held, with the pass's reason, and their
    amounts take no share of a cap (one charge at a time, the pass gives it back before
    the next is sent)."""
    for name in ("ANTAEUS_DB", "ANTAEUS_DUNNING", "ANTAEUS_TZ", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "prod.db"
    assert CliRunner().invoke(app, ["--db", str(db), "init"]).exit_code == ExitCode.OK
    amounts = [("ISK", 150050), ("KWD", 1235), ("ISK", 150000), ("KWD", 1230)]
    with closing(sqlite3.connect(db)) as conn, conn:
        for n, (currency, amount) in enumerate(amounts, start=1):
            conn.execute(
                "INSERT INTO customer (id, currency, provider_ref) VALUES (?, ?, ?)",
                (n, currency, f"cus_{n}"),
            )
            conn.execute(
                "INSERT INTO invoice (customer_id, amount, currency, due_date) "
                "VALUES (?, ?, ?, '2026-12-01')",
                (n, amount, currency),
            )
    shaped.customers({f"cus_{n}": "pm_card_visa" for n in range(1, 5)})
    monkeypatch.setenv("ANTAEUS_PROVIDER", shaped.spec())
    caps = ["--max-total", "ISK=1500.50", "--max-total", "KWD=1.235", "--concurrency", "1"]
    args = ["--db", str(db), "bill", "--as-of", AS_OF, "--json", *caps]
    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == ExitCode.OK, dry.stderr
    real = CliRunner().invoke(app, args)
    assert real.exit_code == ExitCode.NEEDS_OPERATOR, real.stdout
    preview, result = json.loads(dry.stdout), json.loads(real.stdout)
    assert sorted((i["invoice_id"], i["code"], i["detail"]) for i in preview["needs_operator"]) == (
        sorted((i["invoice_id"], i["code"], i["detail"]) for i in result["needs_operator"])
    )
    assert [i["invoice_id"] for i in preview["needs_operator"]] == [1, 2]
    assert preview["stop_reason"] is None
    assert preview["to_charge"] == result["paid"]
