"""`antaeus notify` of pending notices into a real SMTP server (aiosmtpd on loopback, in
its own process), against a bare smtplib loop that sends the same messages over one
connection, measured in the same run. Called by bench_bill.py."""

from __future__ import annotations

import contextlib
import json
import os
import select
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_common import AS_OF, fresh_copy, seed_args  # noqa: E402

from antaeus_cli.channels.email import message_bytes  # noqa: E402
from antaeus_cli.channels.smtp import SmtpChannel, SmtpSettings  # noqa: E402
from antaeus_cli.notify.branding import Branding  # noqa: E402
from antaeus_cli.notify.letters import Letters  # noqa: E402
from antaeus_cli.notify.messages import message_for  # noqa: E402
from antaeus_cli.store import deliveries  # noqa: E402
from antaeus_cli.store.database import Store  # noqa: E402

SENDER = "billing@example.com"
MarkRow = tuple[str, str, str, bool]  # what, figure, target, ok


@contextlib.contextmanager
def smtp_sink() -> Iterator[int]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.smtp_sink"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        if child.stdout is None:
            raise RuntimeError("the SMTP sink has no stdout")
        ready, _, _ = select.select([child.stdout], [], [], 20)
        if not ready:
            raise RuntimeError("the SMTP sink printed no port")
        yield int(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(timeout=10)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTAEUS_")}
    env["NO_COLOR"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "antaeus_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{args[:3]} exited {done.returncode}: {done.stderr[-300:]}")
    return done


def outbox(folder: Path, notices: int) -> Path:
    """A database whose outbox holds about `notices` pending receipts and decline notices."""
    db = folder / "outbox.db"
    _cli(*seed_args(db, notices))
    _cli(
        "--db",
        str(db),
        "bill",
        "--as-of",
        AS_OF,
        "--provider",
        "sim://?latency_ms=0&ledger=:memory:",
    )
    return db


def rendered(db: Path) -> list[tuple[str, bytes]]:
    """Every pending notice as the e-mail `notify` sends: (recipient, bytes)."""
    channel = SmtpChannel(SmtpSettings("127.0.0.1", 1, SENDER), "smtp://")
    store = Store.open(db)
    try:
        with store.transaction() as conn:
            now = datetime.now(UTC)
            rows, _ = deliveries.claim(
                conn, owner="bench", now=now, until=now, limit=10**9, is_alive=lambda _: False
            )
    finally:
        store.close()
    mails = []
    letters = Letters(Branding())
    for notice in rows:
        message = message_for(notice, channel.renders, letters)
        recipient = notice.recipient or "ops@example.com"
        mails.append((recipient, message_bytes(message, sender=SENDER, recipient=recipient)))
    return mails


def floor_seconds(port: int, mails: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    conn = smtplib.SMTP("127.0.0.1", port, timeout=30)
    for recipient, data in mails:
        conn.sendmail(SENDER, [recipient], data)
    conn.quit()
    return time.perf_counter() - start


def notify_seconds(port: int, db: Path) -> tuple[float, int]:
    spec = f"smtp://127.0.0.1:{port}?from={SENDER}&operator=ops@example.com"
    start = time.perf_counter()
    done = _cli("--db", str(db), "notify", "--notify", spec, "--json")
    seconds = time.perf_counter() - start
    return seconds, int(json.loads(done.stdout)["sent"])


def bench_notify(folder: Path, runs: int, notices: int) -> tuple[list[MarkRow], list[str]]:
    template = outbox(folder, notices)
    with sqlite3.connect(template) as conn:
        pending = conn.execute(
            "SELECT count(*) FROM notification WHERE status = 'pending'"
        ).fetchone()[0]
    mails = rendered(fresh_copy(template, folder, "render"))
    ours, floors, ratios = [], [], []
    with smtp_sink() as port:
        for run in range(runs):
            floor = floor_seconds(port, mails)
            seconds, sent = notify_seconds(port, fresh_copy(template, folder, f"notify-{run}"))
            if sent != pending:
                raise RuntimeError(f"notify sent {sent} of {pending}")
            ours.append(seconds)
            floors.append(floor)
            ratios.append(seconds / floor)
    ratio = statistics.median(ratios)
    mine, bare = statistics.median(ours), statistics.median(floors)
    lines = [
        f"  notify of {pending:,} notices into aiosmtpd: {mine:.1f} s median "
        f"({pending / mine:,.0f}/s), one connection; a bare smtplib loop of the same "
        f"messages: {bare:.1f} s; ratio {ratio:.2f}x (median of {runs} paired runs)"
    ]
    return [
        (
            f"notify {pending:,} into aiosmtpd, vs bare smtplib",
            f"{ratio:.2f}x",
            "<= 3x",
            ratio <= 3.0,
        )
    ], lines
