"""`antaeus bill` against localstripe, a Stripe-compatible server this project did not
write: it pays, declines and classifies as the tables say, and a crash after the
charge never makes a second PaymentIntent."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.money import Currency, Money
from antaeus_cli.domain.outcomes import result_of
from antaeus_cli.provider import registry
from tests.process.helpers import age_attempts, antaeus
from tests.stripe.conftest import DECLINES, NEEDS_3DS, SUCCESS, Server

pytestmark = pytest.mark.process
DUE = "2026-12-01"


def seed(db: Path, refs: dict[int, str | None], currencies: dict[int, str] | None = None) -> None:
    currencies = currencies or {}
    fixture = {
        "customers": [
            {"id": cid, "currency": currencies.get(cid, "EUR"), "provider_ref": ref}
            for cid, ref in refs.items()
        ],
        "invoices": [
            {
                "id": cid,
                "customer_id": cid,
                "amount": 1000 + cid,
                "currency": currencies.get(cid, "EUR"),
                "due_date": DUE,
            }
            for cid in refs
        ],
    }
    path = db.with_name("fixture.json")
    path.write_text(json.dumps(fixture))
    done = antaeus(db, "seed", "--from", str(path))
    assert done.returncode == 0, done.stderr


def bill(db: Path, server: Server, *args: str, **env: str) -> tuple[int, dict[str, object]]:
    done = antaeus(
        db, "bill", "--as-of", DUE, "--json", *args, ANTAEUS_PROVIDER=server.spec(), **env
    )
    assert done.stdout or done.returncode in (2, 3), done.stderr
    return done.returncode, json.loads(done.stdout) if done.stdout else {}


def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def mine(server: Server, db: Path) -> list[dict[str, object]]:
    """The PaymentIntents this database's keys made."""
    (namespace,) = rows(db, "SELECT value FROM meta WHERE key = 'namespace'")[0]
    return [
        intent
        for intent in server.intents()
        if str((intent.get("metadata") or {}).get("antaeus_key", "")).startswith(  # type: ignore[attr-defined]
            f"{namespace}-"
        )
    ]


def test_a_pass_pays_declines_and_classifies_as_the_tables_say(
    localstripe: Server, tmp_path: Path
) -> None:
    db = tmp_path / "antaeus.db"
    refs: dict[int, str | None] = {
        1: localstripe.customer(SUCCESS),
        2: localstripe.customer(SUCCESS),
        3: localstripe.customer(DECLINES),
        4: localstripe.customer(NEEDS_3DS),
        5: localstripe.customer(None),  # no payment method at all
        6: "cus_nobody_has_this_one",
        7: None,  # never given a provider_ref
        8: localstripe.customer(SUCCESS),
    }
    seed(db, refs, currencies={8: "SEK"})
    code, result = bill(db, localstripe)
    assert code == 1, result  # two invoices need an operator
    statuses = dict(rows(db, "SELECT id, status FROM invoice"))
    assert statuses == {
        1: "PAID",
        2: "PAID",
        3: "FAILED",  # card_declined with no decline code: soft, retried on the schedule
        4: "AWAITING_CUSTOMER",  # 3-D Secure off-session
        5: "AWAITING_CUSTOMER",  # no default payment method
        6: "NEEDS_OPERATOR",  # Stripe has no such customer
        7: "NEEDS_OPERATOR",  # no provider_ref to charge
        8: "PAID",
    }
    attempts = {
        row[0]: row[1:]
        for row in rows(
            db,
            "SELECT invoice_id, outcome, decline_code, decline_class, provider_ref, "
            "idempotency_key FROM payment_attempt",
        )
    }
    assert attempts[3][:3] == ("declined", "card_declined", "soft")
    assert attempts[4][:3] == ("needs_customer", "requires_action", "needs_customer")
    assert attempts[5][:3] == ("needs_customer", "no_default_payment_method", "needs_customer")
    assert attempts[6][0] == attempts[7][0] == "customer_not_found"

    intents = mine(localstripe, db)
    succeeded = [i for i in intents if i["status"] == "succeeded"]
    by_key = Counter(i["metadata"]["antaeus_key"] for i in succeeded)  # type: ignore[index]
    paid = {inv for inv, status in statuses.items() if status == "PAID"}
    # Each PAID invoice has exactly one succeeded PaymentIntent, carrying its key, and
    # its pi_... reference is on the attempt; nothing else was charged.
    assert sorted(by_key.values()) == [1] * len(paid)
    assert set(by_key) == {attempts[inv][4] for inv in paid}
    for intent in succeeded:
        invoice = int(intent["metadata"]["antaeus_invoice_id"])  # type: ignore[index]
        assert attempts[invoice][3] == intent["id"]
        assert intent["amount"] == 1000 + invoice
        assert intent["currency"] == ("sek" if invoice == 8 else "eur")
        assert intent["customer"] == refs[invoice]
    # The other intents (a decline, a 3-D Secure) never succeeded.
    assert len(intents) == len(succeeded) + 2
    # The 3-D Secure one was marked and canceled, and a look-up reads it as it was read
    # when it was sent: it needs the customer.
    (three_ds,) = [i for i in intents if i["metadata"]["antaeus_invoice_id"] == "4"]  # type: ignore[index]
    assert three_ds["status"] == "canceled"
    assert three_ds["metadata"]["antaeus_canceled"] == "requires_action"  # type: ignore[index]
    assert attempts[4][3] == three_ds["id"]
    stripe_ = registry.open_provider(registry.resolve(localstripe.spec()), db_path=db)
    invoice = Invoice(4, 4, Money(1004, Currency("EUR")), refs[4])
    found = stripe_.lookup(
        invoice, str(attempts[4][4]), since=datetime.now(UTC), reference=str(three_ds["id"])
    )
    assert found is not None
    judged = result_of(found, 1)
    assert (judged.outcome, judged.decline_code, judged.decline_class) == (
        "needs_customer",
        "requires_action",
        "needs_customer",
    )


def test_a_bad_api_key_is_one_usage_error_before_anything_is_claimed(
    localstripe: Server, tmp_path: Path
) -> None:
    db = tmp_path / "antaeus.db"
    seed(db, {1: localstripe.customer(SUCCESS)})
    done = antaeus(
        db,
        "bill",
        "--as-of",
        DUE,
        ANTAEUS_PROVIDER=f"stripe://?api_base={localstripe.base}&api_key=not_a_secret_key",
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "refused the API key" in done.stderr
    assert "not_a_secret_key" not in done.stderr
    assert rows(db, "SELECT count(*) FROM payment_attempt") == [(0,)]


def test_a_crash_after_the_charge_never_makes_a_second_payment_intent(
    localstripe: Server, tmp_path: Path
) -> None:
    db = tmp_path / "antaeus.db"
    seed(db, {1: localstripe.customer(SUCCESS), 2: localstripe.customer(SUCCESS)})
    done = antaeus(
        db,
        "bill",
        "--as-of",
        DUE,
        "--concurrency",
        "1",
        "--batch-size",
        "1",  # invoice 2 is not claimed yet when the process dies
        ANTAEUS_PROVIDER=localstripe.spec(),
        ANTAEUS_FAILPOINT="after-provider-charge:1",
    )
    assert done.returncode == -9  # killed after Stripe charged invoice 1, before the commit
    for _ in range(2):
        code, result = bill(db, localstripe)
        assert code == 0, result
    # localstripe cannot list PaymentIntents by customer, so the charge cannot be looked
    # up; re-sending the key would make a second one (localstripe has no idempotency).
    # The attempt stays open, with the reason, and invoice 1 is never charged again.
    assert rows(db, "SELECT status FROM invoice ORDER BY id") == [("PROCESSING",), ("PAID",)]
    ((outcome, error),) = rows(
        db, "SELECT outcome, error FROM payment_attempt WHERE invoice_id = 1"
    )
    assert outcome == "unknown"
    assert "cannot look the charge up" in str(error)
    intents = [i for i in mine(localstripe, db) if i["metadata"]["antaeus_invoice_id"] == "1"]  # type: ignore[index]
    assert len(intents) == 1
    report = antaeus(db, "report", "--format", "json", "--section", "open-attempts")
    (listed,) = json.loads(report.stdout)["open-attempts"]
    assert listed["invoice_id"] == 1
    assert "cannot look the charge up" in listed["error"]
    assert listed["lookup_passes"] == 2


def test_a_charge_no_look_up_can_settle_is_never_silent(
    localstripe: Server, tmp_path: Path
) -> None:
    """The crash above, and passes that cannot look the charge up: a few hours and a few
    passes later, the pass exits 1 and names the key, and every later pass does, while
    the attempt stays open and is never settled as failed."""
    db = tmp_path / "antaeus.db"
    seed(db, {1: localstripe.customer(SUCCESS)})
    done = antaeus(
        db,
        "bill",
        "--as-of",
        DUE,
        ANTAEUS_PROVIDER=localstripe.spec(),
        ANTAEUS_FAILPOINT="after-provider-charge:1",
    )
    assert done.returncode == -9
    for _ in range(3):
        code, result = bill(db, localstripe)
        assert code == 0, result  # only minutes old: nobody is called yet
    age_attempts(db, 7)
    for _ in range(2):
        code, result = bill(db, localstripe)
        assert code == 1, result
        (late,) = result["overdue_attempts"]
        assert late["invoice_id"] == 1
        assert (late["amount"], late["currency"]) == (1001, "EUR")
        assert late["lookup_passes"] >= 4
        assert "settled by hand" in late["action"]
    ((key, outcome, finished),) = rows(
        db, "SELECT idempotency_key, outcome, finished_at FROM payment_attempt"
    )
    assert (late["idempotency_key"], outcome, finished) == (key, "unknown", None)
    assert rows(db, "SELECT status FROM invoice") == [("PROCESSING",)]
    report = antaeus(db, "report", "--format", "json", "--section", "overdue-attempts")
    assert json.loads(report.stdout)["overdue-attempts"][0]["idempotency_key"] == key
    plain = antaeus(db, "bill", "--as-of", DUE, ANTAEUS_PROVIDER=localstripe.spec())
    assert plain.returncode == 1
    assert "overdue: attempt 1 (invoice 1, EUR 10.01" in plain.stdout
    assert len(mine(localstripe, db)) == 1  # never charged again


def test_any_currency_goes_in_the_unit_stripe_counts_and_a_refused_amount_is_not_sent(
    localstripe: Server, tmp_path: Path
) -> None:
    """Invoices in yen (zero-decimal at Stripe), forint (CLDR writes no fillér, Stripe
    counts them) and króna (two-decimal at Stripe, whole krónur only): the first two
    are charged for exactly their ledger amounts; the króna amount 10.03 is held for
    an operator, and no PaymentIntent is made for it."""
    db = tmp_path / "antaeus.db"
    refs = {cid: localstripe.customer(SUCCESS) for cid in (1, 2, 3)}
    seed(db, dict(refs), {1: "JPY", 2: "HUF", 3: "ISK"})
    code, _ = bill(db, localstripe)
    assert code == 1  # one invoice waits for an operator
    sent = {(i["customer"], i["currency"], i["amount"], i["status"]) for i in mine(localstripe, db)}
    assert sent == {(refs[1], "jpy", 1001, "succeeded"), (refs[2], "huf", 1002, "succeeded")}
    assert rows(db, "SELECT id, status, failure_code FROM invoice ORDER BY id") == [
        (1, "PAID", None),
        (2, "PAID", None),
        (3, "NEEDS_OPERATOR", "provider_error"),
    ]
    (detail,) = rows(db, "SELECT failure_detail FROM invoice WHERE id = 3")[0]
    assert "multiples of 100 minor units" in str(detail)
