"""`--dry-run` shows what a real pass with the same options would do: it stops where
a run cap would stop the pass (in the order the pass charges: replays, the breaker's
spread sample, then id order), says so, and counts what it would leave; and each
zone's due invoices are all of them, those the pass would hold counted as held, so
that the figures add up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.preview_result import PreviewResult
from antaeus_cli.billing.results import Command, PassResult, RunStatus
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.money import Currency
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice
from antaeus_cli.store.database import Store
from tests.conftest import bounded_preview, make_db
from tests.fakes import LOST_REQUEST, FakeProvider, FixedClock, on

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DEC = date(2026, 12, 1)


def preview(db_path: Path, limits: RunLimits, command: Command = Command.BILL) -> PreviewResult:
    store = Store.open(db_path)
    try:
        return bounded_preview(store, command, on(DEC), limits=limits)
    finally:
        store.close()


def charged(provider: FakeProvider) -> list[int]:
    return sorted(invoice for invoice, key in provider.calls if key in provider.charged_keys)


def previewed(result: PreviewResult) -> list[int]:
    return sorted(item.invoice_id for item in result.listed)


@pytest.mark.parametrize(
    ("limits", "first"),
    [
        # the breaker off: id order, though more are due than its window holds
        (RunLimits(max_total={Currency("EUR"): 2500}, breaker_rate=1.0, breaker_window=4), [1, 2]),
        # its window of 4 spread over ids 1 to 12 first: 1, 3, 6, 9
        (RunLimits(max_total={Currency("EUR"): 3500}, breaker_window=4), [1, 3, 6]),
    ],
    ids=["id order", "the breaker's sample first"],
)
def test_a_dry_run_stops_where_the_cap_stops_the_pass(
    make: Callable[..., Path], bill: Bill, db_path: Path, limits: RunLimits, first: list[int]
) -> None:
    """Ten EUR 10.00 invoices, then two in USD. The pass charges in its own order and
    stops at the first charge that would pass the EUR cap, USD included; the dry run
    names the same invoices, says why it would stop, and counts what it would leave."""
    make(*[(i, 1000, "EUR") for i in range(1, 11)], (11, 700, "USD"), (12, 800, "USD"))
    shown = preview(db_path, limits)
    provider = FakeProvider()
    result = bill(provider, limits=limits)
    assert result.status is RunStatus.STOPPED_CAP
    assert previewed(shown) == charged(provider) == first
    assert [(r.currency, r.count, r.minor) for r in shown.to_charge] == [
        ("EUR", len(charged(provider)), 1000 * len(charged(provider)))
    ]
    assert "past --max-total EUR" in (shown.stop_reason or "")
    left = 12 - len(charged(provider))
    assert shown.beyond_cap == left
    assert [(r.currency, r.count) for r in shown.beyond_cap_totals] == [
        ("EUR", left - 2),
        ("USD", 2),
    ]


def test_a_dry_run_without_a_cap_in_reach_charges_everything(
    make: Callable[..., Path], db_path: Path
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 4)])
    shown = preview(db_path, RunLimits(max_total={Currency("EUR"): 3000}))
    assert shown.stop_reason is None
    assert shown.beyond_cap == 0
    assert previewed(shown) == [1, 2, 3]


def test_replays_reserve_their_amounts_first_and_one_the_cap_refuses_stays_open(
    make: Callable[..., Path], bill: Bill, db_path: Path
) -> None:
    """Two charges in doubt from an earlier pass (EUR 10.00 each) are replayed first:
    the first takes its share of a EUR 15.00 cap, the second would pass it and is only
    looked up, which stops nothing; then no fresh charge fits."""
    make((1, 1000, "EUR"), (2, 1000, "EUR"), (3, 400, "EUR"), (4, 1000, "EUR"))
    lost = FakeProvider(default=LOST_REQUEST, can_lookup=False, script={3: ["charged"]})
    bill(lost, sweeps=0, outage_threshold=100, limits=RunLimits(max_total={Currency("EUR"): 2400}))
    caps = RunLimits(max_total={Currency("EUR"): 1500})
    shown = preview(db_path, caps)
    assert shown.to_replay == 2
    assert shown.replays_kept_open == 1
    assert shown.to_charge == []
    assert shown.beyond_cap == 1  # invoice 4: EUR 10.00 would pass the 5.00 left
    assert (shown.stop_reason or "").startswith(
        "run cap: charging invoice 4 (EUR 10.00) would take the pass past --max-total "
        "EUR 15.00 (EUR 10.00 charged or in doubt before it"
    )
    provider = FakeProvider()
    result = bill(provider, limits=caps)
    assert result.status is RunStatus.STOPPED_CAP
    assert 4 not in charged(provider)


@pytest.mark.parametrize("cap", [None, 1500], ids=["no cap", "a cap"])
def test_each_zones_due_counts_the_held_invoices_as_held(
    db_path: Path, bill: Bill, sql: Sql, cap: int | None
) -> None:
    """Berlin has three invoices due, one of them for a customer whose currency does not
    match (held for an operator): due 3, held 1. Every due invoice is charged, held, or
    left by the cap, so the zones add up to the rest of the preview. The cap stops the
    pass at invoice 2, in the claim that judged all five: the invoices it refuses are
    held all the same, by the pass and in the dry run."""
    customers = [
        SeedCustomer(1, "EUR", None, None, None, "Europe/Berlin"),
        SeedCustomer(2, "EUR", None, None, None, "Europe/Berlin"),
        SeedCustomer(3, "USD", None, None, None, "Europe/Berlin"),
        SeedCustomer(4, "EUR", None, None, None, None),
        SeedCustomer(5, "EUR", None, None, None, "Mars/Base"),
    ]
    invoices = [
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 2, 1000, "EUR", DEC),
        SeedInvoice(3, 3, 1000, "EUR", DEC),  # a currency mismatch: held
        SeedInvoice(4, 4, 1000, "EUR", DEC),
        SeedInvoice(5, 5, 1000, "EUR", DEC),  # an unknown zone: held
    ]
    make_db(db_path, Scenario.of(customers, invoices), FixedClock())
    caps = RunLimits() if cap is None else RunLimits(max_total={Currency("EUR"): cap})
    shown = preview(db_path, caps)
    zones = {z.zone: (z.due, z.held) for z in shown.zones}
    if cap is None:
        assert zones == {None: (1, 0), "Europe/Berlin": (3, 1), "Mars/Base": (1, 1)}
    else:  # invoice 2 would pass the cap: the pass stops there, 3 and 5 held already
        assert zones == {None: (1, 0), "Europe/Berlin": (3, 1), "Mars/Base": (1, 1)}
        assert shown.beyond_cap == 2
        result = bill(FakeProvider(), limits=caps)
        assert result.status is RunStatus.STOPPED_CAP
        assert sql("SELECT id FROM invoice WHERE status = 'NEEDS_OPERATOR' ORDER BY id") == [
            (3,),
            (5,),
        ]
        assert sql("SELECT id FROM invoice WHERE status = 'PENDING' ORDER BY id") == [(2,), (4,)]
    charged_count = sum(r.count for r in shown.to_charge)
    assert sum(z.due for z in shown.zones) == (
        charged_count + shown.needs_operator + shown.awaiting_customer + shown.beyond_cap
    )
    assert sum(z.held for z in shown.zones) == shown.needs_operator + shown.awaiting_customer
