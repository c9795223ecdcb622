"""`antaeus bill` killed after Stripe charged and before the answer was committed, then
run again, at once and a day and a half later: the Stripe-shaped server (which, like
Stripe, forgets keys after 24 hours) never gets a second PaymentIntent. And SIGTERM
while a pass waits out a 429 that asked for an hour."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.process.helpers import age_attempts, antaeus, start
from tests.stripe.conftest import Shaped, seed

pytestmark = pytest.mark.process


@pytest.mark.parametrize("hours_later", [0, 36])
def test_a_crash_after_the_charge_is_settled_by_lookup(
    tmp_path: Path, shaped: Shaped, hours_later: int
) -> None:
    db = tmp_path / "antaeus.db"
    seed(db, shaped, 6)
    crashed = antaeus(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--concurrency",
        "4",
        ANTAEUS_PROVIDER=shaped.spec(),
        ANTAEUS_FAILPOINT="after-provider-charge:3",
    )
    assert crashed.returncode == -9
    if hours_later:
        age_attempts(db, hours_later)
        shaped.advance(hours_later)  # the server has forgotten every key by now
    done = antaeus(db, "bill", "--as-of", "2026-12-02", "--json", ANTAEUS_PROVIDER=shaped.spec())
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        statuses = {s for (s,) in conn.execute("SELECT status FROM invoice")}
        open_attempts = conn.execute(
            "SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL"
        ).fetchone()
        charged_keys = {
            k
            for (k,) in conn.execute(
                "SELECT idempotency_key FROM payment_attempt WHERE outcome = 'charged'"
            )
        }
    assert statuses == {"PAID"}
    assert open_attempts == (0,)
    assert shaped.succeeded_per_invoice() == dict.fromkeys(range(1, 7), 1)
    theirs = {i["metadata"]["antaeus_key"] for i in shaped.intents()}
    assert theirs == charged_keys
    assert shaped.stats().get("replayed", 0) == 0  # every open key was looked up, not re-sent


def test_a_crash_after_antaeus_canceled_a_3ds_charge_leaves_it_waiting_for_the_customer(
    tmp_path: Path, shaped: Shaped
) -> None:
    """Killed after the PaymentIntent that required authentication was canceled, before
    the answer was committed: the next pass finds it canceled, and records what the
    charge would have, an invoice waiting for the customer. Nothing for an operator."""
    db = tmp_path / "antaeus.db"
    seed(db, shaped, 2)
    shaped.customers({"cus_1": "pm_card_authenticationRequired"})
    crashed = antaeus(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--concurrency",
        "1",
        ANTAEUS_PROVIDER=shaped.spec(),
        ANTAEUS_FAILPOINT="after-provider-charge:1",
    )
    assert crashed.returncode == -9
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT outcome FROM payment_attempt WHERE invoice_id = 1"
        ).fetchall() == [("started",)]
    (canceled,) = [i for i in shaped.intents() if i["metadata"]["antaeus_invoice_id"] == "1"]
    assert canceled["status"] == "canceled"
    done = antaeus(db, "bill", "--as-of", "2026-12-01", "--json", ANTAEUS_PROVIDER=shaped.spec())
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["needs_operator"] == []
    assert result["counts"]["awaiting_customer"] == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT i.status, i.failure_code, a.outcome, a.decline_code, a.decline_class, "
            "a.provider_ref FROM invoice i JOIN payment_attempt a ON a.invoice_id = i.id "
            "WHERE i.id = 1"
        ).fetchall() == [
            (
                "AWAITING_CUSTOMER",
                "needs_customer",
                "needs_customer",
                "requires_action",
                "needs_customer",
                canceled["id"],
            )
        ]
        # The customer is asked to act, as after a pass that was never killed.
        assert conn.execute(
            "SELECT n.kind FROM notification n JOIN payment_attempt a ON a.id = n.attempt_id "
            "WHERE a.invoice_id = 1"
        ).fetchall() == [("action_required",)]
        assert conn.execute("SELECT status FROM invoice WHERE id = 2").fetchall() == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {2: 1}
    assert shaped.stats()["canceled"] == 1  # canceled once, before the kill


def test_sigterm_ends_a_wait_for_an_hour_long_retry_after_within_seconds(
    tmp_path: Path, shaped: Shaped
) -> None:
    db = tmp_path / "antaeus.db"
    seed(db, shaped, 3)
    shaped.faults({1: ["rate_limit_429"] * 20}, retry_after="3600")
    proc = start(
        db, "bill", "--as-of", "2026-12-01", "--concurrency", "1", ANTAEUS_PROVIDER=shaped.spec()
    )
    deadline = time.monotonic() + 30
    while not shaped.stats().get("rate_limited"):
        assert time.monotonic() < deadline, "no 429 was answered"
        time.sleep(0.05)
    time.sleep(0.5)  # waiting now: for the Retry-After, up to the 60 s bound
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 3, err
    runs = json.loads(antaeus(db, "report", "--format", "json").stdout)["runs"]
    assert (runs[0]["status"], runs[0]["stop_reason"][:16]) == ("interrupted", "received SIGTERM")
    assert 1 not in shaped.succeeded_per_invoice()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_while_the_provider_is_checked_ends_the_command_at_once(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Stripe takes its time with the first request: a stop signal meanwhile ends the
    command within seconds, with the code of a stopped pass, and nothing claimed."""
    from tests.stripe.conftest import shaped_server

    with shaped_server("--latency-ms", "20000") as slow:
        db = tmp_path / "antaeus.db"
        seed(db, slow, 2)
        proc = start(db, "bill", "--as-of", "2026-12-01", ANTAEUS_PROVIDER=slow.spec())
        time.sleep(1.5)  # the first request is waiting on the server now
        sent = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - sent < 5
        assert proc.returncode == 3, err
        assert "before the pass began: nothing was claimed or charged" in err
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM payment_attempt").fetchone() == (0,)
