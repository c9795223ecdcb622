"""A stop signal with a slow Stripe: the pass ends within seconds with the code of a
stopped pass (3), sends no new request after the signal, and leaves every attempt as
true as it can be: a charge whose customer was read but whose PaymentIntent was never
sent is handed back (`abandoned`, nothing moved); a charge whose request was in flight
stays open, and the next pass looks it up instead of sending it again.

Against the Stripe-shaped server on loopback, slowed per request line; the real CLI as
a subprocess, a real signal."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.process.helpers import antaeus, start
from tests.stripe.conftest import Shaped, seed, shaped_server

pytestmark = pytest.mark.process

INVOICES = 3
CREATE = ("POST", "/v1/payment_intents")
BOUND_S = 5.0  # from the signal to the exit: a few seconds, whatever the provider does


def bill(db: Path, server: Shaped) -> subprocess.Popen[str]:
    # A request may wait 60 s for its answer: only the stop can end these passes early.
    # Requests the stop cut are no outage, however many there are in a row.
    return start(
        db,
        "bill",
        "--as-of",
        "2026-12-01",
        "--concurrency",
        "4",
        "--outage-threshold",
        "2",
        ANTAEUS_PROVIDER=server.spec(timeout_s="60"),
    )


def arrived(server: Shaped, method: str, path_prefix: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while sum(r["path"].startswith(path_prefix) for r in server.requests(method=method)) < count:
        assert time.monotonic() < deadline, f"no {method} {path_prefix} reached the server"
        time.sleep(0.02)


def stop(proc: subprocess.Popen[str], signum: signal.Signals) -> tuple[float, float, str]:
    """Send the signal; return its wall-clock time, the seconds to the exit, stderr."""
    at, sent = time.time(), time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    return at, time.monotonic() - sent, err


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def last_run(db: Path) -> dict[str, Any]:
    runs: list[dict[str, Any]] = json.loads(antaeus(db, "report", "--format", "json").stdout)[
        "runs"
    ]
    return runs[0]


def test_a_stop_while_the_customer_is_read_sends_no_charge(tmp_path: Path) -> None:
    """The customer's answer comes 1.5 s late, within the grace in-flight requests get:
    it is read, and then the PaymentIntent is not sent, because the pass is stopping.
    No money moved, so the attempts are closed as never sent and the invoices wait as
    they were; the next pass charges each once, under new keys."""
    with shaped_server() as server:
        db = tmp_path / "antaeus.db"
        seed(db, server, INVOICES)
        server.slow(delay={"GET /v1/customers/": 1.5})
        proc = bill(db, server)
        arrived(server, "GET", "/v1/customers/", INVOICES)
        _, took, err = stop(proc, signal.SIGTERM)
        assert proc.returncode == 3, err
        assert took < BOUND_S
        assert server.requests(*CREATE) == []
        assert server.intents() == []
        assert rows(db, "SELECT outcome, count(*) FROM payment_attempt GROUP BY outcome") == [
            ("abandoned", INVOICES)
        ]
        assert rows(db, "SELECT DISTINCT status FROM invoice") == [("PENDING",)]
        run = last_run(db)
        assert (run["status"], run["stop_reason"][:16]) == ("interrupted", "received SIGTERM")

        server.slow()
        done = antaeus(db, "bill", "--as-of", "2026-12-01", ANTAEUS_PROVIDER=server.spec())
        assert done.returncode == 0, done.stderr
        assert server.succeeded_per_invoice() == dict.fromkeys(range(1, INVOICES + 1), 1)
        assert rows(db, "SELECT DISTINCT status FROM invoice") == [("PAID",)]


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name
)
def test_a_stop_while_charges_are_in_flight_ends_the_pass_within_seconds(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Stripe makes each charge at once and answers it 30 s later. The pass does not
    wait that out: it cuts the requests still in flight a moment after the signal and
    exits 3. Those charges may have happened, so their attempts stay open (in doubt);
    the next pass looks each key up, finds its PaymentIntent, and sends nothing again."""
    with shaped_server() as server:
        db = tmp_path / "antaeus.db"
        seed(db, server, INVOICES)
        server.slow(delay={"POST /v1/payment_intents": 30})
        proc = bill(db, server)
        arrived(server, *CREATE, INVOICES)
        signalled, took, err = stop(proc, signum)
        assert proc.returncode == 3, err
        assert took < BOUND_S
        assert "Traceback" not in err
        sent = server.requests(*CREATE)
        assert len(sent) == INVOICES
        assert all(r["at"] < signalled for r in server.requests())  # nothing new after it
        assert (
            rows(db, "SELECT outcome, finished_at FROM payment_attempt")
            == [("unknown", None)] * INVOICES
        )
        run = last_run(db)
        assert (run["status"], run["stop_reason"][:9]) == ("interrupted", "received ")

        server.slow()
        done = antaeus(db, "bill", "--as-of", "2026-12-01", ANTAEUS_PROVIDER=server.spec())
        assert done.returncode == 0, done.stderr
        assert rows(db, "SELECT DISTINCT status FROM invoice") == [("PAID",)]
        assert server.succeeded_per_invoice() == dict.fromkeys(range(1, INVOICES + 1), 1)
        assert server.requests(*CREATE) == sent  # looked up, never sent again
        assert server.stats().get("replayed", 0) == 0
