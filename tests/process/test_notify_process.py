"""`notify` as cron runs it, against a real SMTP server on loopback: killed between a
delivery and its mark, stopped by a signal, and run twice at once."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from antaeus_cli import failpoints
from tests.process.helpers import antaeus, start
from tests.servers.smtp import Mailbox, smtp_server

pytestmark = pytest.mark.process
KILLED = -9


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as running:
        yield running


def billed(tmp_path: Path, customers: int = 30) -> Path:
    db = tmp_path / "antaeus.db"
    seeded = antaeus(
        db, "seed", "--customers", str(customers), "--seed", "3", "--as-of", "2026-12-01"
    )
    assert seeded.returncode == 0, seeded.stderr
    billed = antaeus(db, "bill", "--as-of", "2026-12-01", "--backoff-ms", "0")
    assert billed.returncode in (0, 1), billed.stderr
    return db


def keys(db: Path) -> dict[int, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT id, dedupe_key FROM notification"))


def arrived(box: Mailbox) -> Counter[str]:
    return Counter(mid.strip("<>").split("@")[0] for mid in box.message_ids())


def spec(port: int) -> str:
    return f"smtp://127.0.0.1:{port}?from=billing@example.com&operator=ops@example.com&timeout=10"


def test_a_kill_between_delivery_and_mark_resends_that_notice_under_its_message_id(
    tmp_path: Path, smtp: tuple[int, Mailbox]
) -> None:
    port, box = smtp
    db = billed(tmp_path)
    notices = keys(db)
    victim = sorted(notices)[len(notices) // 2]
    args = ("notify", "--notify", spec(port), "--lease", "1", "--batch-size", "7")
    killed = antaeus(db, *args, ANTAEUS_FAILPOINT=f"{failpoints.AFTER_NOTICE_SENT}:{victim}")
    assert killed.returncode == KILLED
    assert arrived(box)[notices[victim]] == 1
    time.sleep(1.1)  # the dead run's lease runs out
    done = antaeus(db, *args)
    assert done.returncode == 0, done.stderr
    seen = arrived(box)
    assert set(seen) == set(notices.values())  # nothing lost
    assert seen[notices[victim]] == 2  # the one in doubt, twice, with one Message-ID
    assert all(n == 1 for key, n in seen.items() if key != notices[victim])
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT DISTINCT status FROM notification").fetchall() == [("sent",)]


def test_overlapping_runs_never_send_a_notice_twice(
    tmp_path: Path, smtp: tuple[int, Mailbox]
) -> None:
    port, box = smtp
    db = billed(tmp_path, customers=80)
    runs = [start(db, "notify", "--notify", spec(port), "--batch-size", "5") for _ in range(3)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    seen = arrived(box)
    assert set(seen) == set(keys(db).values())
    assert max(seen.values()) == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_notify_between_notices_and_the_next_run_sends_the_rest(
    tmp_path: Path, smtp: tuple[int, Mailbox], sig: signal.Signals
) -> None:
    port, box = smtp
    db = billed(tmp_path)
    notices = keys(db)
    box.data_delay = 0.2  # a slow server: the run is mid-way when the signal comes
    args = ("notify", "--notify", spec(port), "--batch-size", "5", "--json")
    proc = start(db, *args)
    deadline = time.monotonic() + 30
    while len(box.message_ids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    result = json.loads(out)
    assert result["stop_reason"] == "stopped by a signal; the rest is delivered next run"
    assert 2 <= result["sent"] < len(notices)
    assert result["sent"] == len(box.message_ids())  # what arrived is what is marked sent
    with sqlite3.connect(db) as conn:
        by_status = dict(conn.execute("SELECT status, count(*) FROM notification GROUP BY 1"))
        leased = conn.execute("SELECT count(*) FROM notification WHERE lease_owner IS NOT NULL")
        assert leased.fetchone() == (0,)  # what it had claimed and not sent was handed back
    assert by_status == {"sent": result["sent"], "pending": len(notices) - result["sent"]}
    box.data_delay = 0
    done = antaeus(db, *args)
    assert done.returncode == 0, done.stderr
    seen = arrived(box)
    assert set(seen) == set(notices.values())
    assert max(seen.values()) == 1  # each notice once, across both runs


@pytest.mark.parametrize("where", ["greeting", "reply"])
@pytest.mark.parametrize("signals", [1, 2])
def test_a_signal_ends_notify_within_seconds_while_a_server_trickles(
    tmp_path: Path, signals: int, where: str
) -> None:
    """The server answers a line a tenth of a second, for ever, and the spec's timeout
    is ten minutes: SIGTERM still ends the run within a moment's grace, a second one at
    once, each with exit 3 and its line; nothing is lost."""
    from antaeus_cli.domain.waits import STOP_GRACE_S
    from tests.servers.trickle import trickling_greeting, trickling_smtp

    db = billed(tmp_path, customers=3)
    server = trickling_greeting if where == "greeting" else trickling_smtp
    with server() as port:
        slow = (
            f"smtp://127.0.0.1:{port}?from=billing@example.com&operator=ops@example.com&timeout=600"
        )
        proc = start(db, "notify", "--notify", slow)
        time.sleep(1.0)  # connected, and waiting on the trickle
        sent = time.monotonic()
        for _ in range(signals):
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    assert "stopped early: stopped by a signal; the rest is delivered next run" in out
    assert took < (1.0 if signals == 2 else STOP_GRACE_S + 1.5)
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT DISTINCT status, lease_owner FROM notification WHERE recipient IS NOT NULL"
        ).fetchall() == [("pending", None)]


def slow_subject(folder: Path, seconds: float) -> None:
    """A receipt subject that takes about `seconds` to render here, and renders."""
    from antaeus_cli.domain.notices import NoticeKind
    from antaeus_cli.notify.branding import Branding
    from antaeus_cli.notify.letters import Letters
    from antaeus_cli.notify.specimens import specimen

    (folder / "en").mkdir(parents=True, exist_ok=True)
    notice = specimen(NoticeKind.RECEIPT, amount=100, currency="EUR")
    n, took = 300, 0.0
    while took < seconds / 4:
        n *= 2
        (folder / "en" / "receipt.subject").write_text(
            f"{{% for i in range({n}) %}}{{% for j in range({n}) %}}{{% endfor %}}{{% endfor %}}R"
        )
        began = time.perf_counter()
        Letters(Branding(), folder).render(notice)
        took = time.perf_counter() - began
    n = int(n * (seconds / took) ** 0.5)
    (folder / "en" / "receipt.subject").write_text(
        f"{{% for i in range({n}) %}}{{% for j in range({n}) %}}{{% endfor %}}{{% endfor %}}R"
    )


def test_a_signal_during_the_templates_check_ends_notify_with_exit_3(tmp_path: Path) -> None:
    """Templates that are slow but render (each receipt about a second, a dozen
    specimens) make the check at the start of a run long: SIGTERM still ends it within
    seconds, exit 3, nothing tried."""
    db = billed(tmp_path, customers=3)
    slow_subject(tmp_path / "templates", 0.8)
    mail = f"maildir://{tmp_path / 'mail'}?from=b@example.com&operator=o@example.com"
    proc = start(db, "notify", "--notify", mail,
                 "--templates", str(tmp_path / "templates"))  # fmt: skip
    time.sleep(3.0)  # in the check (about ten seconds), well past start-up on a busy machine
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "stopped by a signal" in out, out
    assert time.monotonic() - sent < 3.0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT max(tries) FROM notification").fetchone() == (0,)
