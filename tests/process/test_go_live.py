"""Going live, as the docs tell an operator to: `antaeus init`, the upstream export
loaded with `antaeus import`, a dry run, the first pass against a Stripe-shaped server,
the notices into a real SMTP server, and `antaeus check` saying OK, then CRITICAL when
two days go by with no pass. Every step is the real CLI in a subprocess."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.process.helpers import antaeus
from tests.servers.smtp import smtp_server
from tests.stripe.conftest import shaped_server

pytestmark = pytest.mark.process

CUSTOMERS = """external_id,currency,provider_ref,email,timezone
crm-1,EUR,cus_1,one@example.com,Europe/Berlin
crm-2,EUR,cus_2,two@example.com,Europe/Dublin
crm-3,USD,cus_3,three@example.com,America/New_York
"""
INVOICES = [
    {"external_id": "inv-1", "customer_external_id": "crm-1", "amount_minor": 2500},
    {"external_id": "inv-2", "customer_external_id": "crm-2", "amount_minor": 1900},
    {"external_id": "inv-3", "customer_external_id": "crm-3", "amount_minor": 4900,
     "currency": "USD"},
]  # fmt: skip
DUE = "2026-12-01"


def ok(done: object) -> str:
    assert getattr(done, "returncode", None) == 0, getattr(done, "stderr", "")
    return str(getattr(done, "stdout", ""))


def test_from_an_empty_database_to_a_monitored_pass(tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    ok(antaeus(db, "init"))
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "invoices.jsonl").write_text(
        "".join(json.dumps({"currency": "EUR", "due_date": DUE, **i}) + "\n" for i in INVOICES)
    )
    ok(antaeus(db, "import", "customers", str(tmp_path / "customers.csv")))
    dry = json.loads(ok(antaeus(db, "import", "invoices", str(tmp_path / "invoices.jsonl"),
                                "--dry-run", "--json")))  # fmt: skip
    assert dry["added"] == 3
    ok(antaeus(db, "import", "invoices", str(tmp_path / "invoices.jsonl")))

    forgotten = antaeus(db, "bill", "--as-of", DUE)  # the crontab's provider line forgotten
    assert forgotten.returncode == 2
    assert "no payment provider" in forgotten.stderr

    rehearsal = json.loads(ok(antaeus(db, "bill", "--as-of", DUE, "--dry-run", "--json")))
    assert sum(c["count"] for c in rehearsal["to_charge"]) == 3

    with shaped_server() as stripe, smtp_server() as (port, box):
        stripe.customers({f"cus_{n}": "pm_card_visa" for n in (1, 2, 3)})
        billed = json.loads(
            ok(antaeus(db, "bill", "--as-of", DUE, "--json", ANTAEUS_PROVIDER=stripe.spec()))
        )
        assert billed["counts"]["paid"] == 3
        assert sorted(stripe.succeeded_per_invoice()) == [1, 2, 3]
        again = antaeus(db, "bill", "--as-of", DUE, ANTAEUS_PROVIDER=stripe.spec())
        assert again.returncode == 0
        assert sorted(stripe.succeeded_per_invoice().values()) == [1, 1, 1]  # once each

        notify = f"smtp://127.0.0.1:{port}?from=billing@example.com&operator=ops@example.com"
        ok(antaeus(db, "notify", ANTAEUS_NOTIFY=notify))
        kinds = sorted(mid.strip("<>").split("@")[0].split("-", 1)[1] for mid in box.message_ids())
        # a receipt each, and the operator told of the pass the forgotten line refused
        assert kinds == ["inv-1-1-receipt", "inv-2-1-receipt", "inv-3-1-receipt",
                         "run-1-run_summary"]  # fmt: skip

    with sqlite3.connect(db) as conn:
        (finished,) = conn.execute("SELECT max(finished_at) FROM billing_run").fetchone()
    soon = (datetime.fromisoformat(finished) + timedelta(minutes=10)).isoformat()
    assert ok(antaeus(db, "check", "--as-of", soon)) == "ANTAEUS OK - billing is healthy\n"
    later = (datetime.fromisoformat(finished) + timedelta(days=2)).isoformat()
    stale = antaeus(db, "check", "--as-of", later)
    assert stale.returncode == 2
    assert stale.stdout.startswith("ANTAEUS CRITICAL - the last completed bill pass finished")
