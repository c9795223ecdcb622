"""An API key revoked in the middle of a pass, against the Stripe-shaped server (which
refuses a key with 401 once it has expired): the pass stops, and says what it charged
before, what it left open, and what to fix. Never "nothing was charged"."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from antaeus_cli.billing.results import PassResult, RunStatus
from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.domain.money import CurrencyTotal, format_minor
from antaeus_cli.provider import registry
from antaeus_cli.provider.port import CredentialsRejected, PaymentProvider
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice
from tests.cli.test_json_schema import schema
from tests.conftest import make_db
from tests.fakes import FixedClock
from tests.stripe.conftest import Shaped

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DUE = date(2026, 12, 1)
INVOICES = 20
REVOKED_AFTER = 9


def setup(db_path: Path, server: Shaped) -> None:
    """Invoice n bills cus_n, who has a card, EUR 10 + n cents; the key expires after
    REVOKED_AFTER charges."""
    server.customers({f"cus_{n}": "pm_card_visa" for n in range(1, INVOICES + 1)})
    make_db(
        db_path,
        Scenario.of(
            [SeedCustomer(n, "EUR", None, f"cus_{n}") for n in range(1, INVOICES + 1)],
            [SeedInvoice(n, n, 1000 + n, "EUR", DUE) for n in range(1, INVOICES + 1)],
        ),
        FixedClock(),
    )
    server.expire_key(after_charges=REVOKED_AFTER)


def stripe(server: Shaped) -> PaymentProvider:
    return registry.open_provider(registry.resolve(server.spec()), db_path=Path("."))


def charged(server: Shaped) -> list[int]:
    """The invoices the server holds a succeeded PaymentIntent for."""
    return sorted(server.succeeded_per_invoice())


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_key_revoked_mid_pass_stops_it_and_the_run_says_what_was_charged(
    db_path: Path, shaped: Shaped, bill: Bill, sql: Sql, concurrency: int
) -> None:
    setup(db_path, shaped)
    result = bill(stripe(shaped), concurrency=concurrency)
    paid = charged(shaped)
    # Calls already past the server's gate when the key expired may still charge.
    assert REVOKED_AFTER <= len(paid) < REVOKED_AFTER + concurrency
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, CredentialsRejected)
    assert result.counts.paid == len(paid)
    amount = sum(1000 + n for n in paid)
    assert result.paid == [CurrencyTotal("EUR", len(paid), amount)]
    assert sql("SELECT id FROM invoice WHERE status = 'PAID' ORDER BY id") == [(n,) for n in paid]
    # Nothing is left in doubt: the refused requests moved nothing, the rest never left.
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PENDING'") == [(INVOICES - len(paid),)]
    assert result.unresolved == 0
    assert result.counts.not_processed >= 1
    assert result.counts.not_processed + result.counts.released == INVOICES - len(paid)
    reason = result.stop_reason or ""
    assert "nothing was charged" not in reason
    assert reason.startswith(
        "Stripe refused the API key (401: Invalid API Key provided: ***) in the"
    )
    assert f"{len(paid)} invoices paid ({format_minor(amount, 'EUR')})" in reason
    assert "0 attempts left open" in reason
    assert reason.endswith("check ANTAEUS_PROVIDER or api_key_file, then run again")
    # The run row says how it ended, with its counts.
    assert sql("SELECT status, stop_reason, paid, not_processed, released FROM billing_run") == [
        ("failed", reason, len(paid), result.counts.not_processed, result.counts.released)
    ]
    # With a live key, the next pass charges the rest, each once.
    shaped.expire_key(after_charges=10**9)
    assert bill(stripe(shaped), concurrency=concurrency).status is RunStatus.COMPLETED
    assert shaped.succeeded_per_invoice() == dict.fromkeys(range(1, INVOICES + 1), 1)


@pytest.mark.parametrize("json_output", [True, False])
def test_the_cli_exits_2_and_tells_the_truth(
    db_path: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch, json_output: bool
) -> None:
    """Exit 2: a refused credential is a configuration error, part-way or not. But
    stdout has the pass's result, and the error line what it had done."""
    for name in ("ANTAEUS_DB", "ANTAEUS_DUNNING", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTAEUS_PROVIDER", shaped.spec())
    setup(db_path, shaped)
    args = ["--db", str(db_path), "bill", "--as-of", "2026-12-01", "--concurrency", "1"]
    done = CliRunner().invoke(app, [*args, *(["--json"] if json_output else [])])
    assert done.exit_code == ExitCode.USAGE
    paid = charged(shaped)
    assert len(paid) == REVOKED_AFTER
    total = format_minor(sum(1000 + n for n in paid), "EUR")
    line = f"{REVOKED_AFTER} invoices paid ({total})"
    error = done.stderr.splitlines()[-1]  # after the progress lines, if any
    assert error.startswith("antaeus: error: Stripe refused the API key (401: ")
    assert line in error
    assert "nothing was charged" not in done.stderr + done.stdout
    if json_output:
        document = json.loads(done.stdout)
        validator = Draft202012Validator(schema("pass"), format_checker=FormatChecker())
        assert [e.message for e in validator.iter_errors(document)] == []
        assert (document["status"], document["exit_code"]) == ("failed", 2)
        assert document["counts"]["paid"] == REVOKED_AFTER
        assert document["paid"][0]["count"] == REVOKED_AFTER
        assert document["paid"][0]["amount"] == total
        assert document["unresolved_attempts"] == 0
        assert line in document["stop_reason"]
    else:
        assert "failed; exit 2" in done.stdout
        assert f"paid {total} ({REVOKED_AFTER})" in done.stdout
        assert line in done.stdout


def test_a_key_refused_before_the_pass_says_nothing_was_charged(
    db_path: Path, shaped: Shaped, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request, before anything is claimed: there, nothing was charged."""
    monkeypatch.setenv("ANTAEUS_PROVIDER", shaped.spec())
    setup(db_path, shaped)
    shaped.expire_key(after_charges=0)
    done = CliRunner().invoke(app, ["--db", str(db_path), "bill", "--as-of", "2026-12-01"])
    assert done.exit_code == ExitCode.USAGE
    assert "before the pass claimed anything, so nothing was charged" in done.stderr
    assert done.stdout == ""
    assert charged(shaped) == []
