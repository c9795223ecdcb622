"""The words of a pass's summary agree with its numbers, and with the ledger: a count
and the totals under it count the same invoices, a decline the breaker handed back
is not a decline, and one invoice is "1 invoice"."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from antaeus_cli.billing.results import PassResult, RunStatus
from antaeus_cli.cli.app import app
from antaeus_cli.cli.boundary import exit_code_for_pass
from antaeus_cli.cli.render_pass import pass_json, pass_lines
from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.domain.words import counted
from antaeus_cli.notify.render import summary
from tests.domain.test_notices import pending
from tests.fakes import CHARGED, DECLINED, HARD, NEEDS_CUSTOMER, NOT_FOUND, FakeProvider

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DECLINE_STATUSES = "('FAILED', 'UNCOLLECTIBLE', 'AWAITING_CUSTOMER')"


def counts_line(lines: list[str]) -> str:
    (line,) = [line for line in lines if ", network retries " in line]
    return line


def said(lines: list[str], word: str) -> int:
    """The count a summary's counts line gives after `word`."""
    found = re.search(rf"(?:^|, ){word} (\d+)", counts_line(lines).strip())
    assert found is not None, (word, lines)
    return int(found.group(1))


def totalled(lines: list[str], word: str) -> int:
    """How many invoices the per-currency lines for `word` add up to."""
    return sum(
        int(line.rsplit("(", 1)[1].rstrip(")"))
        for line in lines
        if re.fullmatch(rf"  {word} [A-Z]{{3}} .* \(\d+\)", line)
    )


def agrees(result: PassResult, sql: Sql) -> list[str]:
    """The summary's counts match its totals and the ledger; returns its lines."""
    lines = pass_lines(result, exit_code_for_pass(result))
    assert said(lines, "paid") == totalled(lines, "paid") == result.counts.paid
    assert said(lines, "declined") == totalled(lines, "declined")
    in_ledger = sql(
        f"SELECT count(DISTINCT i.id) FROM invoice i JOIN payment_attempt a "
        f"ON a.invoice_id = i.id WHERE a.run_id = ? AND i.status IN {DECLINE_STATUSES}",
        result.run_id,
    )
    assert said(lines, "declined") == in_ledger[0][0]
    assert result.counts.declines == in_ledger[0][0]
    document = pass_json(result, exit_code_for_pass(result))
    assert sum(row["count"] for row in document["declined"]) == result.counts.declines
    return lines


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_decline_is_counted_once_where_its_amount_is(
    make: Callable[..., Path], bill: Bill, sql: Sql, concurrency: int
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 8)])
    script = {1: [CHARGED], 2: [DECLINED], 3: [HARD], 4: [NEEDS_CUSTOMER], 5: [NOT_FOUND]}
    result = bill(FakeProvider(script=script, io_bound=concurrency > 1), concurrency=concurrency)
    lines = agrees(result, sql)
    assert counts_line(lines).startswith(
        "  paid 3, declined 3 (retry scheduled 1, uncollectible 0, awaiting the customer 2), "
        "needs operator 1, not processed 0,"
    )
    assert "  declined EUR 30.00 (3)" in lines


def test_the_last_decline_of_a_schedule_is_a_decline_too(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"), (2, 500, "EUR"))
    result = bill(FakeProvider(default=DECLINED), schedule=DunningSchedule(()))
    lines = agrees(result, sql)
    assert "declined 2 (retry scheduled 0, uncollectible 2, awaiting the customer 0)" in (
        counts_line(lines)
    )
    assert "  declined EUR 15.00 (2)" in lines


@pytest.mark.parametrize("concurrency", [1, 4])
def test_declines_the_breaker_handed_back_are_not_declines(
    make: Callable[..., Path], bill: Bill, sql: Sql, concurrency: int
) -> None:
    """Four charges, then declines: the breaker trips at the seventh decline of its 30
    (a window that holds every invoice, so it judges them in id order). Every decline
    it saw is PENDING again, and the summary counts them apart."""
    make(*[(i, 1000, "EUR") for i in range(1, 31)])
    provider = FakeProvider(
        script={n: [CHARGED] for n in range(1, 5)}, default=DECLINED, io_bound=concurrency > 1
    )
    limits = RunLimits(breaker_rate=0.2, breaker_window=30)
    result = bill(provider, concurrency=concurrency, limits=limits)
    assert result.status is RunStatus.STOPPED_BREAKER
    lines = agrees(result, sql)
    handed_back = sql(
        "SELECT count(DISTINCT i.id) FROM invoice i JOIN payment_attempt a "
        "ON a.invoice_id = i.id WHERE a.run_id = ? AND a.outcome = 'declined' "
        "AND i.status = 'PENDING'",
        result.run_id,
    )[0][0]
    assert handed_back >= 6
    assert result.counts.handed_back == handed_back
    assert f"handed back by the breaker {handed_back}" in counts_line(lines)
    assert sql("SELECT declined, paid FROM billing_run WHERE id = ?", result.run_id) == [
        (result.counts.declined, 4)
    ]


def test_one_of_a_thing_is_said_in_the_singular(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTAEUS_DB", "ANTAEUS_PROVIDER", "ANTAEUS_TZ", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    fixture = tmp_path / "one.json"
    fixture.write_text(
        json.dumps(
            {
                "customers": [{"id": 1, "currency": "EUR"}],
                "invoices": [
                    {
                        "id": 1,
                        "customer_id": 1,
                        "amount": 100,
                        "currency": "EUR",
                        "due_date": "2026-12-01",
                    }
                ],
            }
        )
    )
    runner = CliRunner()
    seeded = runner.invoke(app, ["--db", str(db_path), "seed", "--from", str(fixture)])
    assert seeded.exit_code == 0, seeded.stderr
    args = ["--db", str(db_path), "bill", "--as-of", "2026-12-01", "--tz", "UTC"]
    preview = runner.invoke(app, [*args, "--dry-run"])
    assert "would charge 1 invoice, EUR 1.00" in preview.stdout
    assert "would replay 0 open attempts first" in preview.stdout
    assert "local date 2026-12-01, 1 invoice due" in preview.stdout
    done = runner.invoke(app, args)
    assert "charge: 1 invoice due" in done.stderr
    assert "reconcile: 0 open attempts to replay" in done.stderr
    body = '{"command": "bill", "as_of": "2026-12-01", "status": "completed", "needs_operator": 1}'
    mail = summary(pending(NoticeKind.RUN_SUMMARY, body=body, recipient=None))
    assert mail.subject == "antaeus: run 3 (bill) completed: 1 invoice needs an operator"


def test_a_count_reads_as_english() -> None:
    assert [counted(n, "invoice") for n in (0, 1, 2)] == ["0 invoices", "1 invoice", "2 invoices"]
    assert counted(1, "invoice needs", "invoices need") == "1 invoice needs"
    assert counted(3, "invoice needs", "invoices need") == "3 invoices need"
