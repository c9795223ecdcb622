"""A production database from `antaeus init`, its rows written by SQL as an upstream
system would, charged through the Stripe-shaped server: the one provider it accepts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from tests.cli.test_purpose import AS_OF, add_invoice
from tests.stripe.conftest import Shaped


def test_a_production_database_charges_through_the_real_provider(
    tmp_path: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTAEUS_DB", "ANTAEUS_DUNNING", "ANTAEUS_TZ", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "prod.db"
    runner = CliRunner()
    assert runner.invoke(app, ["--db", str(db), "init"]).exit_code == ExitCode.OK
    add_invoice(db)
    shaped.customers({"cus_1": "pm_card_visa"})
    monkeypatch.setenv("ANTAEUS_PROVIDER", shaped.spec())
    result = runner.invoke(app, ["--db", str(db), "bill", "--as-of", AS_OF, "--json"])
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["counts"]["paid"] == 1
    assert sorted(shaped.succeeded_per_invoice()) == [1]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM invoice").fetchall() == [("PAID",)]
