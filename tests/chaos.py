"""Crash trials: kill `bill` or `retry-failed` at random seams, recover, audit the books.

    python -m tests.chaos --trials 60      # what `make chaos` runs

Each trial seeds a fresh database and a simulated provider that loses 20% of
requests and responses. It then runs the trial's command one to three times, each
time with a random failpoint armed (so the process dies by SIGKILL), then runs
recovery passes until one completes with nothing left open. Finally it audits our books against the
provider's own charges table.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path

from antaeus_cli import failpoints

DUE = "2026-12-01"
RETRY_DAY = "2026-12-02"
KILLED = -signal.SIGKILL


@dataclass
class Figures:
    trials: int = 0
    killed_trials: int = 0  # trials in which at least one process was killed
    kills: int = 0
    recovery_passes: int = 0
    double_charges: int = 0  # invoices charged more than once at the provider
    lost_payments: int = 0  # charged at the provider, not PAID in our books
    phantom_payments: int = 0  # PAID in our books by a pass, never charged at the provider
    unresolved_attempts: int = 0
    integrity_failures: int = 0
    total_mismatches: int = 0  # currencies whose report total differs from the provider's
    unexpected_exits: int = 0
    # Notices: committed outcomes without exactly one notice, or notices without one
    untold_outcomes: int = 0
    lost_notices: int = 0  # in the outbox, never delivered by notify's recovery runs
    repeated_notices: int = 0  # delivered twice, other than the one a kill interrupted
    notes: list[str] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        for f in fields(self):
            if f.name != "notes":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.notes += other.notes

    @property
    def failures(self) -> int:
        return (
            self.double_charges
            + self.lost_payments
            + self.phantom_payments
            + self.unresolved_attempts
            + self.integrity_failures
            + self.total_mismatches
            + self.unexpected_exits
            + self.untold_outcomes
            + self.lost_notices
            + self.repeated_notices
        )

    def render(self) -> str:
        lines = [
            f"chaos: {self.trials} trials ({self.killed_trials} with a kill), {self.kills} "
            f"processes killed at failpoints, {self.recovery_passes} recovery passes",
        ]
        names = (
            "double_charges",
            "lost_payments",
            "phantom_payments",
            "unresolved_attempts",
            "integrity_failures",
            "total_mismatches",
            "unexpected_exits",
            "untold_outcomes",
            "lost_notices",
            "repeated_notices",
        )
        lines += [f"  {name.replace('_', ' ') + ':':<22}{getattr(self, name)}" for name in names]
        lines += [f"  ! {note}" for note in self.notes[:20]]
        return "\n".join(lines)


def cli(
    db: Path, *args: str, failpoint: str | None = None, provider: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; `provider` goes through ANTAEUS_PROVIDER, as credentials must."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTAEUS_")}
    env["NO_COLOR"] = "1"
    if failpoint:
        env[failpoints.ENV_VAR] = failpoint
    if provider:
        env["ANTAEUS_PROVIDER"] = provider
    return subprocess.run(
        [sys.executable, "-m", "antaeus_cli", "--db", str(db), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_trial(index: int, base_seed: int, root: Path) -> Figures:
    rng = random.Random(base_seed * 1_000_003 + index)
    figures = Figures(trials=1)
    db = root / f"trial-{index}" / "antaeus.db"
    db.parent.mkdir(parents=True)
    seeded = cli(
        db,
        "seed",
        "--customers",
        str(rng.randint(25, 60)),
        "--invoices-per-customer",
        "2",
        "--seed",
        str(index),
        "--as-of",
        DUE,
    )
    if seeded.returncode != 0:
        raise RuntimeError(f"trial {index}: seed failed: {seeded.stderr}")
    spec = f"sim://?network_error_rate=0.2&seed={index}&latency_ms={rng.choice([0, 0, 2])}"
    batch = rng.choice([5, 10, 25])
    common = [
        "--provider",
        spec,
        "--backoff-ms",
        "0",
        "--batch-size",
        str(batch),
        "--concurrency",
        str(rng.choice([1, 4])),
    ]
    command = rng.choice(["bill", "retry-failed"])
    as_of = DUE
    if command == "retry-failed":
        first = cli(db, "bill", "--as-of", DUE, *common)
        expect(figures, index, "first bill", first.returncode, (0, 1))
        as_of = RETRY_DAY
    for _ in range(rng.randint(1, 3)):
        targets = candidates(db, command, as_of)
        armed = pick_failpoint(rng, targets, batch)
        crashed = cli(db, command, "--as-of", as_of, *common, failpoint=armed)
        figures.kills += crashed.returncode == KILLED
        if crashed.returncode != KILLED and os.environ.get("CHAOS_DEBUG"):
            figures.notes.append(
                f"trial {index}: {command} {armed} exited "
                f"{crashed.returncode} with {len(targets)} candidates"
            )
        expect(figures, index, armed, crashed.returncode, (KILLED, 0, 1, 3))
    # Recovery passes, as cron's next runs: until one completes with nothing left open.
    # A pass may complete with an attempt open when the simulated network failed every
    # look-up of its key in that pass (a rare draw, which the database's random
    # namespace makes); the next pass looks it up again.
    completed = False
    for _ in range(8):
        figures.recovery_passes += 1
        done = cli(db, command, "--as-of", as_of, *common)
        completed = completed or done.returncode in (0, 1)
        if done.returncode in (0, 1) and not open_attempts(db):
            break
    if not completed:
        figures.unexpected_exits += 1
        figures.notes.append(f"trial {index}: no recovery pass completed: {done.stderr[-300:]}")
    figures.add(audit(db, db.with_name("antaeus.provider.db"), label=f"trial {index}"))
    figures.add(deliver_with_a_kill(db, rng, label=f"trial {index}"))
    figures.trials = 1
    figures.killed_trials = 1 if figures.kills else 0
    return figures


def open_attempts(db: Path) -> int:
    query = "SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL"
    with sqlite3.connect(db) as conn:
        return int(conn.execute(query).fetchone()[0])


def pick_failpoint(rng: random.Random, targets: list[int], batch: int) -> str:
    point = rng.choice(failpoints.PASS_POINTS)
    if point == failpoints.BETWEEN_BATCHES or not targets:
        target = rng.randint(1, max(1, len(targets) // batch))  # a batch that will exist
    else:
        target = rng.choice(targets)
    return f"{point}:{target}"


def expect(figures: Figures, index: int, what: str, code: int, allowed: tuple[int, ...]) -> None:
    if code not in allowed:
        figures.unexpected_exits += 1
        figures.notes.append(f"trial {index}: {what} exited {code}")


def candidates(db: Path, command: str, as_of: str) -> list[int]:
    """Invoices the next pass will send to the provider: open attempts to replay, and
    due invoices that pass the local checks (the others never reach a failpoint)."""
    due = (
        "i.status = 'PENDING' AND i.due_date <= ?"
        if command == "bill"
        else "i.status = 'FAILED' AND i.next_retry_on <= ?"
    )
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT i.id FROM invoice i JOIN customer c ON c.id = i.customer_id "
            f"WHERE i.status = 'PROCESSING' OR ({due} AND i.amount > 0 "
            "AND i.currency = c.currency AND i.currency IN ('EUR', 'USD', 'DKK', 'SEK', 'GBP'))",
            (as_of,),
        ).fetchall()
    return [row[0] for row in rows]


MONEY_MOVED = "outcome IN ('charged', 'processing')"  # the simulator debits both

# Each counts committed outcomes whose notices break the outbox's rule.
NOTICE_AUDIT = (
    # a charge without exactly one receipt
    "SELECT count(*) FROM payment_attempt a WHERE a.outcome = 'charged' AND (SELECT count(*) "
    "FROM notification n WHERE n.attempt_id = a.id AND n.kind = 'receipt') <> 1",
    # a notice for an attempt that is open, or whose outcome is not what it tells
    "SELECT count(*) FROM notification n JOIN payment_attempt a ON a.id = n.attempt_id "
    "WHERE a.finished_at IS NULL OR (n.kind = 'receipt') <> (a.outcome = 'charged')",
    # a decline that moved its invoice on (its latest attempt), and told nobody
    "SELECT count(*) FROM payment_attempt a JOIN invoice i ON i.id = a.invoice_id "
    "WHERE a.outcome IN ('declined', 'declined_hard', 'needs_customer') "
    "AND a.attempt_no = (SELECT max(b.attempt_no) FROM payment_attempt b "
    "WHERE b.invoice_id = a.invoice_id) "
    "AND i.status IN ('FAILED', 'AWAITING_CUSTOMER', 'UNCOLLECTIBLE') "
    "AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.attempt_id = a.id)",
    # two notices for one attempt
    "SELECT count(*) - count(DISTINCT attempt_id) FROM notification WHERE attempt_id IS NOT NULL",
)


def audit(db: Path, ledger: Path, *, label: str = "") -> Figures:
    """Our books against the provider's: every way money could be lost or doubled."""
    figures = Figures()
    ours, theirs = sqlite3.connect(db), sqlite3.connect(ledger)
    try:
        charged = Counter(
            row[0] for row in theirs.execute(f"SELECT invoice_id FROM charge WHERE {MONEY_MOVED}")
        )
        status = dict(ours.execute("SELECT id, status FROM invoice"))
        attempted_paid = {
            row[0]
            for row in ours.execute(
                "SELECT DISTINCT invoice_id FROM payment_attempt WHERE outcome = 'charged'"
            )
        }
        figures.double_charges = sum(1 for n in charged.values() if n > 1)
        figures.lost_payments = sum(1 for i in charged if status.get(i) != "PAID")
        figures.phantom_payments = sum(1 for i in attempted_paid if charged[i] != 1)
        figures.unresolved_attempts = ours.execute(
            "SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL"
        ).fetchone()[0]
        healthy = (
            ours.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            and not ours.execute("PRAGMA foreign_key_check").fetchall()
        )
        figures.integrity_failures = 0 if healthy else 1
        figures.untold_outcomes = sum(ours.execute(check).fetchone()[0] for check in NOTICE_AUDIT)
        provider_totals = dict(
            theirs.execute(
                f"SELECT currency, sum(amount) FROM charge WHERE {MONEY_MOVED} GROUP BY currency"
            )
        )
    finally:
        ours.close()
        theirs.close()
    report = json.loads(cli(db, "report", "--format", "json", "--section", "collected").stdout)
    ours_totals = {row["currency"]: row["amount_minor"] for row in report["collected"]}
    currencies = ours_totals.keys() | provider_totals.keys()
    figures.total_mismatches = sum(
        1 for c in currencies if ours_totals.get(c) != provider_totals.get(c)
    )
    if figures.failures:
        figures.notes.append(f"{label}: {db}")
    return figures


def deliver_with_a_kill(db: Path, rng: random.Random, *, label: str) -> Figures:
    """`notify` into a Maildir, killed after one random notice was delivered and before
    it was marked; then recovery runs. Every notice must arrive, and only the one the
    kill interrupted may arrive twice, under the same Message-ID."""
    figures = Figures()
    maildir = db.with_name("mail")
    spec = f"maildir://{maildir}?from=billing@example.com&operator=ops@example.com"
    with sqlite3.connect(db) as conn:
        ids = [
            row[0] for row in conn.execute("SELECT id FROM notification WHERE status = 'pending'")
        ]
    if not ids:
        return figures
    victim = rng.choice(ids)
    args = ("--notify", spec, "--lease", "1", "--batch-size", str(rng.choice([3, 10, 50])))
    killed = cli(db, "notify", *args, failpoint=f"{failpoints.AFTER_NOTICE_SENT}:{victim}")
    figures.kills += killed.returncode == KILLED
    expect(figures, 0, "notify with a kill", killed.returncode, (KILLED,))
    time.sleep(1.1)  # the killed run's lease runs out
    done = cli(db, "notify", *args)
    expect(figures, 0, "notify recovery", done.returncode, (0,))
    with sqlite3.connect(db) as conn:
        keys = dict(conn.execute("SELECT id, dedupe_key FROM notification"))
        figures.lost_notices = conn.execute(
            "SELECT count(*) FROM notification WHERE status NOT IN ('sent', 'withdrawn')"
        ).fetchone()[0]
    arrived = Counter(
        str(message["Message-ID"]).split("@")[0].lstrip("<") for message in mailbox.Maildir(maildir)
    )
    figures.lost_notices += sum(1 for nid, key in keys.items() if arrived[key] == 0 and nid in ids)
    figures.repeated_notices = sum(
        1 for key, n in arrived.items() if n > 1 and key != keys[victim]
    ) + (1 if arrived[keys[victim]] > 2 else 0)
    if figures.failures:
        figures.notes.append(f"{label}: notify: {db}")
    return figures


Trial = Callable[[int, int, Path], Figures]


def run(
    trials: int, base_seed: int, root: Path, workers: int = 2, trial: Trial = run_trial
) -> Figures:
    total = Figures()
    with ThreadPoolExecutor(workers) as pool:
        for result in pool.map(lambda i: trial(i, base_seed, root), range(trials)):
            total.add(result)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the trial folders")
    parser.add_argument(
        "--provider",
        choices=("sim", "stripe"),
        default="sim",
        help="sim://, or stripe:// against the Stripe-shaped loopback server",
    )
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="antaeus-chaos-"))
    trial: Trial = run_trial
    if args.provider == "stripe":
        from tests.chaos_stripe import run_stripe_trial

        trial = run_stripe_trial
    figures = run(args.trials, args.seed, root, trial=trial)
    sys.stdout.write(figures.render() + "\n")
    if args.keep or figures.failures:
        sys.stdout.write(f"trial folders kept in {root}\n")
    else:
        import shutil

        shutil.rmtree(root)
    return 1 if figures.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
