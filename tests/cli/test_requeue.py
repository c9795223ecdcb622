"""`antaeus requeue-notices` as an operator runs it: after a relay refused every
recipient for good, the notices are put back and the next `notify` sends them."""

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


def statuses(db: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT status, count(*) FROM notification WHERE recipient IS NOT NULL "
            "GROUP BY status ORDER BY status"
        ).fetchall()


def test_notices_refused_for_good_are_put_back_and_then_sent(
    runner: CliRunner, tmp_path: Path
) -> None:
    db = tmp_path / "antaeus.db"
    run(runner, db, "seed", "--customers", "4", "--seed", "1", "--as-of", "2026-12-01")
    run(runner, db, "bill", "--as-of", "2026-12-01")
    with smtp_server() as (port, box):
        box.refuse_every_rcpt = "550 5.1.1 no such mailbox here"
        spec = f"smtp://127.0.0.1:{port}?from=billing@example.com&operator=ops@example.com"
        code, _, err = run(runner, db, "notify", "--notify", spec)
        assert code == ExitCode.NEEDS_OPERATOR, err
        ((status, failed),) = statuses(db)
        assert status == "failed"

        code, out, err = run(runner, db, "requeue-notices", "--dry-run", "--json")
        assert code == ExitCode.OK, err
        preview = json.loads(out)
        valid("requeue-notices", preview)
        assert (preview["dry_run"], preview["requeued"]) == (True, failed)
        assert statuses(db) == [("failed", failed)]

        code, out, err = run(runner, db, "requeue-notices", "--kind", "receipt")
        assert code == ExitCode.OK, err
        assert "put back in the outbox; 'antaeus notify' sends them" in out
        assert "answered 550 to the recipient: 5.1.1 no such mailbox here" in out
        code, out, err = run(runner, db, "requeue-notices", "--json")
        assert code == ExitCode.OK, err
        valid("requeue-notices", json.loads(out))
        assert statuses(db) == [("pending", failed)]

        box.refuse_every_rcpt = None
        code, _, err = run(runner, db, "notify", "--notify", spec)
        assert code == ExitCode.OK, err
        assert statuses(db) == [("sent", failed)]


def test_a_bad_choice_is_one_line_and_changes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    run(runner, db, "seed", "--customers", "2", "--seed", "1", "--as-of", "2026-12-01")
    for args, fragment in [
        (("--kind", "reciept"), "'reciept' is not a kind of notice"),
        (("--since", "yesterday"), "'--since'"),
        (("--since", "2026-12-01"), "an instant with an offset"),
        (("--customer", "x"), "'--customer'"),
    ]:
        code, out, err = run(runner, db, "requeue-notices", *args)
        assert (code, out) == (ExitCode.USAGE, ""), args
        assert_one_line_error(err, fragment)


def test_every_kind_of_notice_can_be_chosen(runner: CliRunner, tmp_path: Path) -> None:
    from antaeus_cli.domain.notices import NoticeKind

    db = tmp_path / "antaeus.db"
    run(runner, db, "seed", "--customers", "2", "--seed", "1", "--as-of", "2026-12-01")
    for kind in NoticeKind:
        code, _, err = run(runner, db, "requeue-notices", "--dry-run", "--kind", kind.value)
        assert code == ExitCode.OK, (kind, err)
