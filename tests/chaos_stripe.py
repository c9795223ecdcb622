"""Crash trials against the Stripe-shaped loopback server: `python -m tests.chaos
--provider stripe`.

Each trial starts its own server, which loses requests and responses, answers 409,
429 and saved 500s at random (20% of requests), and declines or asks for
authentication for some customers. The trial kills `bill` or `retry-failed` at
random seams, recovers, and audits our books against the server's PaymentIntents.
A saved 500 keeps its key's answer for the retention window, so a trial whose
attempts are still open after its recovery passes runs more a day later, once the
server's trouble has passed and it has forgotten those keys.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from pathlib import Path

from tests.chaos import (
    DUE,
    KILLED,
    RETRY_DAY,
    Figures,
    candidates,
    cli,
    expect,
    pick_failpoint,
)
from tests.process.helpers import age_attempts
from tests.stripe.conftest import Shaped, shaped_server

METHODS = (
    ["pm_card_visa"] * 16
    + ["pm_card_chargeDeclinedInsufficientFunds"] * 2
    + ["pm_card_chargeDeclinedStolenCard", "pm_card_authenticationRequired"]
)


def run_stripe_trial(index: int, base_seed: int, root: Path) -> Figures:
    rng = random.Random(base_seed * 1_000_003 + index)
    with shaped_server() as server:
        return _trial(index, rng, root, server)


def _trial(index: int, rng: random.Random, root: Path, server: Shaped) -> Figures:
    figures = Figures(trials=1)
    db = root / f"stripe-trial-{index}" / "antaeus.db"
    db.parent.mkdir(parents=True)
    count = rng.randint(20, 40)
    server.customers({f"cus_{n}": rng.choice(METHODS) for n in range(1, count + 1)})
    _seed(db, count)
    server.faults(random_rate=0.2, seed=index)
    spec = server.spec()
    batch = rng.choice([5, 10, 25])
    common = ["--backoff-ms", "0", "--batch-size", str(batch)]
    common += ["--concurrency", str(rng.choice([1, 4])), "--outage-threshold", "50"]
    command = rng.choice(["bill", "retry-failed"])
    as_of = DUE
    if command == "retry-failed":
        first = cli(db, "bill", "--as-of", DUE, *common, provider=spec)
        expect(figures, index, "first bill", first.returncode, (0, 1))
        as_of = RETRY_DAY
    for _ in range(rng.randint(1, 3)):
        armed = pick_failpoint(rng, candidates(db, command, as_of), batch)
        crashed = cli(db, command, "--as-of", as_of, *common, failpoint=armed, provider=spec)
        figures.kills += crashed.returncode == KILLED
        expect(figures, index, armed, crashed.returncode, (KILLED, 0, 1, 3))
    for day in (0, 1):
        if day:
            # A day later: the server's trouble has passed, and it forgot the keys
            # whose 500s it had saved.
            age_attempts(db, 25)
            server.advance(25)
            server.faults(random_rate=0.0)
        for _ in range(6):
            figures.recovery_passes += 1
            done = cli(db, command, "--as-of", as_of, *common, provider=spec)
            if done.returncode in (0, 1) and not _open(db):
                break
        if not _open(db):
            break
    figures.add(audit(db, server, label=f"stripe trial {index}"))
    figures.trials = 1
    figures.killed_trials = 1 if figures.kills else 0
    return figures


def _seed(db: Path, count: int) -> None:
    fixture = {
        "customers": [
            {"id": n, "currency": "EUR" if n % 3 else "GBP", "provider_ref": f"cus_{n}"}
            for n in range(1, count + 1)
        ],
        "invoices": [
            {
                "id": n,
                "customer_id": n,
                "amount": 990 + n,
                "currency": "EUR" if n % 3 else "GBP",
                "due_date": DUE,
            }
            for n in range(1, count + 1)
        ],
    }
    path = db.with_name("fixture.json")
    path.write_text(json.dumps(fixture))
    seeded = cli(db, "seed", "--from", str(path))
    if seeded.returncode != 0:
        raise RuntimeError(f"seed failed: {seeded.stderr}")


def _open(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL"
            ).fetchone()[0]
        )


def audit(db: Path, server: Shaped, *, label: str) -> Figures:
    """Our books against the server's PaymentIntents."""
    figures = Figures()
    succeeded = [i for i in server.intents() if i["status"] == "succeeded"]
    charged = Counter(int(i["metadata"]["antaeus_invoice_id"]) for i in succeeded)
    ours = sqlite3.connect(db)
    try:
        status = dict(ours.execute("SELECT id, status FROM invoice"))
        paid_by_us = {
            row[0]
            for row in ours.execute(
                "SELECT DISTINCT invoice_id FROM payment_attempt WHERE outcome = 'charged'"
            )
        }
        figures.unresolved_attempts = _open(db)
        healthy = ours.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        figures.integrity_failures = 0 if healthy else 1
    finally:
        ours.close()
    figures.double_charges = sum(1 for n in charged.values() if n > 1)
    figures.lost_payments = sum(1 for i in charged if status.get(i) != "PAID")
    figures.phantom_payments = sum(1 for i in paid_by_us if charged[i] != 1)
    theirs: Counter[str] = Counter()
    for intent in succeeded:
        theirs[str(intent["currency"]).upper()] += int(intent["amount"])
    report = json.loads(cli(db, "report", "--format", "json", "--section", "collected").stdout)
    mine = {row["currency"]: row["amount_minor"] for row in report["collected"]}
    figures.total_mismatches = sum(
        1 for c in mine.keys() | theirs.keys() if mine.get(c) != theirs.get(c)
    )
    if figures.failures:
        figures.notes.append(f"{label}: {db}")
    return figures
