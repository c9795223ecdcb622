"""Each customer is billed on their own first of the month: passes against a real
SQLite file, with customers around the world."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.domain.guards import GUARDS_OFF
from antaeus_cli.domain.judgement import Path as Judged
from antaeus_cli.provider.sim_ledger import Account
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice
from antaeus_cli.store import claims
from antaeus_cli.store.database import Store
from tests.conftest import bounded_preview, make_db
from tests.fakes import DECLINED, FakeProvider, FixedClock

Bill = Callable[..., PassResult]
COMPANY = ZoneInfo("Europe/Copenhagen")
# Ten zones from UTC+14 to UTC-12, with the half and quarter hours between.
TEN_ZONES = [
    "Pacific/Kiritimati",  # +14
    "Pacific/Auckland",  # +13 in December (summer time)
    "Asia/Tokyo",  # +9
    "Asia/Kathmandu",  # +5:45
    "Asia/Kolkata",  # +5:30
    "Europe/Copenhagen",  # +1
    "Europe/London",  # 0
    "America/St_Johns",  # -3:30
    "America/Los_Angeles",  # -8
    "Etc/GMT+12",  # -12
]
DEC_1, NOV_30 = date(2026, 12, 1), date(2026, 11, 30)


def world(zones: list[str | None], dues: tuple[date, ...] = (DEC_1,)) -> Scenario:
    """One customer per zone (None: the company's), each with one invoice per due date."""
    customers = [
        SeedCustomer(cid, "EUR", Account(cid, "EUR", 10**9), None, f"c{cid}@example.com", zone)
        for cid, zone in enumerate(zones, start=1)
    ]
    invoices = [
        SeedInvoice(cid * 10 + k, cid, 1000 + cid, "EUR", due)
        for cid in range(1, len(zones) + 1)
        for k, due in enumerate(dues)
    ]
    return Scenario.of(customers, invoices)


def local_midnight(day: date, zone: str | None) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(zone) if zone else COMPANY).astimezone(UTC)


def begin(store: Store, pass_clock: PassClock, command: str = "bill") -> tuple[int, claims.Days]:
    """A run recorded as started, and the zones' dates read as a pass reads them."""
    from antaeus_cli.store import runs
    from tests.conftest import ME
    from tests.fakes import dead

    started = runs.start_run(
        store,
        command=command,
        clock=pass_clock,
        provider="x",
        me=ME,
        now=datetime.now(UTC),
        is_alive=dead,
    )
    with store.reading() as conn:
        days = claims.days_sql(pass_clock.days(claims.zones(conn)))
    return started.run_id, days


def hourly(start: datetime, end: datetime) -> list[datetime]:
    hours = int((end - start).total_seconds() // 3600)
    return [start + timedelta(hours=h) for h in range(hours + 1)]


def test_a_month_end_hour_by_hour_charges_everyone_once_at_their_own_midnight(
    db_path: Path, clock: FixedClock, bill: Bill, sql: Callable[..., list[tuple[Any, ...]]]
) -> None:
    """Hourly passes from 2026-11-30T00:00Z to 2026-12-01T23:00Z over customers in ten
    zones (and one in the company's): each invoice is charged exactly once, in the
    first pass at or after its local midnight, never before."""
    zones: list[str | None] = [*TEN_ZONES, None]
    make_db(db_path, world(zones, (NOV_30, DEC_1)), clock)
    provider = FakeProvider()
    midnight = {
        cid * 10 + k: local_midnight(due, zone)
        for cid, zone in enumerate(zones, start=1)
        for k, due in enumerate((NOV_30, DEC_1))
    }
    passes = hourly(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, 23, tzinfo=UTC))
    assert len(passes) == 48
    for instant in passes:
        clock.now = instant
        result = bill(provider, as_of=AsOf.at(instant), company_zone=COMPANY)
        assert result.counts.needs_operator == 0
        paid = {row[0] for row in sql("SELECT id FROM invoice WHERE status = 'PAID'")}
        assert paid == {i for i, at in midnight.items() if at <= instant}, instant
    charged_in = dict(
        sql(
            "SELECT a.invoice_id, r.as_of_instant FROM payment_attempt a "
            "JOIN billing_run r ON r.id = a.run_id"
        )
    )
    assert sorted(charged_in) == sorted(midnight)  # one attempt each, every one charged
    assert len(provider.calls) == len(midnight)
    for invoice_id, at in midnight.items():
        first_pass = min(p for p in passes if p >= max(at, passes[0]))
        assert datetime.fromisoformat(charged_in[invoice_id]) == first_pass, invoice_id
    # The zones ahead of UTC began 30 November before the first pass: charged in it.
    assert charged_in[10] == charged_in[20] == passes[0].isoformat()
    # Kathmandu's midnight is at 18:15 UTC: the 19:00 pass is the first after it.
    assert charged_in[41] == "2026-11-30T19:00:00+00:00"
    # UTC-12 is the last place on earth to begin 1 December, at 12:00 UTC.
    assert charged_in[101] == "2026-12-01T12:00:00+00:00"


def test_the_date_form_bills_every_zone_on_that_date_as_before(
    db_path: Path, clock: FixedClock, bill: Bill
) -> None:
    make_db(db_path, world([*TEN_ZONES, None]), clock)
    assert bill(FakeProvider(), as_of=NOV_30, company_zone=COMPANY).counts.paid == 0
    assert bill(FakeProvider(), as_of=DEC_1, company_zone=COMPANY).counts.paid == 11


def test_an_unknown_zone_holds_that_customers_invoices_and_the_pass_goes_on(
    db_path: Path, clock: FixedClock, bill: Bill, edit: Callable[..., None]
) -> None:
    make_db(db_path, world(["Europe/London", "Mars/Olympus_Mons", None]), clock)
    edit("UPDATE customer SET timezone = 'Europe/Copenhagen ' WHERE id = 3")  # a stray space
    provider = FakeProvider()
    # Before 1 December has begun for every customer, nobody's zone matters yet.
    early = bill(provider, as_of=AsOf.parse("2026-11-30T23:30:00Z"), company_zone=COMPANY)
    assert early.counts.paid == 0
    assert early.counts.needs_operator == 0
    result = bill(provider, as_of=AsOf.parse("2026-12-01T00:30:00Z"), company_zone=COMPANY)
    assert result.counts.paid == 1
    held = {item.invoice_id: item for item in result.counts.operator_items}
    assert set(held) == {20, 30}
    assert held[20].code == "malformed"
    assert "customer 2 has time zone 'Mars/Olympus_Mons'" in held[20].detail
    assert "'Europe/Copenhagen '" in held[30].detail
    assert [call[0] for call in provider.calls] == [10]


def test_an_unknown_zone_holds_a_retry_too(
    db_path: Path, clock: FixedClock, bill: Bill, edit: Callable[..., None]
) -> None:
    make_db(db_path, world(["Asia/Tokyo"]), clock)
    bill(FakeProvider(script={10: [DECLINED]}), as_of=DEC_1)
    edit("UPDATE customer SET timezone = 'Asia/Tokio' WHERE id = 1")
    result = bill(FakeProvider(), command=Command.RETRY_FAILED, as_of=date(2026, 12, 9))
    assert [item.invoice_id for item in result.counts.operator_items] == [10]
    assert "'Asia/Tokio'" in result.counts.operator_items[0].detail


def test_dunning_dates_are_dates_in_the_customers_zone(
    db_path: Path, clock: FixedClock, bill: Bill, sql: Callable[..., list[tuple[Any, ...]]]
) -> None:
    """Declined at 10:30 UTC on 1 December: 02:30 on the 1st in Los Angeles, 19:30 on the
    1st in Tokyo, and already the 2nd in Kiritimati (and in the company's zone, there
    too). Each decline is dated in its customer's zone, and so is each retry."""
    make_db(db_path, world(["America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"]), clock)
    script = {10: [DECLINED, "charged"], 20: [DECLINED, "charged"], 30: [DECLINED, "charged"]}
    provider = FakeProvider(script=script)
    company = ZoneInfo("Pacific/Kiritimati")
    bill(provider, as_of=AsOf.parse("2026-12-01T10:30:00Z"), company_zone=company)
    assert sql("SELECT id, first_declined_on, next_retry_on FROM invoice ORDER BY id") == [
        (10, "2026-12-01", "2026-12-02"),
        (20, "2026-12-01", "2026-12-02"),
        (30, "2026-12-02", "2026-12-03"),
    ]

    def retry(at: str) -> set[int]:
        bill(provider, command=Command.RETRY_FAILED, as_of=AsOf.parse(at), company_zone=company)
        return {row[0] for row in sql("SELECT id FROM invoice WHERE status = 'PAID'")}

    assert retry("2026-12-01T14:59:00Z") == set()  # 23:59 on the 1st in Tokyo
    assert retry("2026-12-01T15:00:00Z") == {20}  # Tokyo's 2nd has begun; not LA's
    assert retry("2026-12-02T07:59:00Z") == {20}  # 23:59 on the 1st in Los Angeles
    assert retry("2026-12-02T08:00:00Z") == {10, 20}
    assert retry("2026-12-02T09:59:59Z") == {10, 20}  # 23:59:59 on the 2nd in Kiritimati
    assert retry("2026-12-02T10:00:00Z") == {10, 20, 30}


def test_billing_run_records_the_instant_or_the_date(
    db_path: Path, clock: FixedClock, bill: Bill, sql: Callable[..., list[tuple[Any, ...]]]
) -> None:
    make_db(db_path, world(["Asia/Tokyo"]), clock)
    bill(FakeProvider(), as_of=AsOf.parse("2026-11-30T23:30:00-08:00"), company_zone=COMPANY)
    bill(FakeProvider(), as_of=date(2026, 12, 2))
    assert sql("SELECT as_of, as_of_instant FROM billing_run ORDER BY id") == [
        ("2026-12-01", "2026-12-01T07:30:00+00:00"),  # the company's date at that instant
        ("2026-12-02", None),
    ]


def test_a_dry_run_shows_each_zones_date_and_what_is_due_there(
    db_path: Path, clock: FixedClock, edit: Callable[..., None]
) -> None:
    make_db(db_path, world(["Pacific/Auckland", "America/Los_Angeles", None, "Nowhere/Land"]))
    store = Store.open(db_path)
    try:
        preview = bounded_preview(
            store, Command.BILL, PassClock(AsOf.parse("2026-11-30T12:00:00Z"), COMPANY)
        )
    finally:
        store.close()
    by_zone = {z.zone: z for z in preview.zones}
    assert by_zone[None].local_date == NOV_30  # 13:00 in Copenhagen
    assert (by_zone["Pacific/Auckland"].local_date, by_zone["Pacific/Auckland"].due) == (DEC_1, 1)
    assert by_zone["America/Los_Angeles"].due == 0
    assert not by_zone["Nowhere/Land"].known
    assert [item.invoice_id for item in preview.listed] == [10]
    assert preview.as_of_instant == datetime(2026, 11, 30, 12, tzinfo=UTC)


ZONE_CHOICES = st.sampled_from([None, "Nowhere/Land", "", *TEN_ZONES])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    zones=st.lists(ZONE_CHOICES, min_size=1, max_size=8),
    minutes=st.integers(0, 3 * 24 * 60),
    dues=st.lists(st.sampled_from([NOV_30, DEC_1, date(2026, 12, 2)]), min_size=1, max_size=8),
)
def test_the_claims_sql_selects_exactly_what_the_python_rule_says(
    tmp_path_factory: Any, zones: list[str | None], minutes: int, dues: list[date]
) -> None:
    """The claim compares due dates with per-zone dates in SQL, for speed; the Python
    rule (domain.clock) is the authority. A customer whose zone is unknown is selected
    once the date has begun everywhere, to be held then."""
    path = tmp_path_factory.mktemp("zones") / "antaeus.db"
    customers = [
        SeedCustomer(cid, "EUR", None, None, None, zone) for cid, zone in enumerate(zones, 1)
    ]
    invoices = [
        SeedInvoice(n, 1 + n % len(zones), 100, "EUR", due) for n, due in enumerate(dues, 1)
    ]
    make_db(path, Scenario.of(customers, invoices))
    instant = datetime(2026, 11, 29, 12, tzinfo=UTC) + timedelta(minutes=minutes)
    clock = PassClock(AsOf.at(instant), COMPANY)
    conn = sqlite3.connect(path)
    try:
        zone_days = clock.days(claims.zones(conn))
        rows = claims.due_batch(
            conn,
            claims.Due.BILL,
            claims.days_sql(zone_days),
            claims.BEFORE_FIRST,
            100,
            amount=GUARDS_OFF,
        )
    finally:
        conn.close()
    expected = set()
    for invoice in invoices:
        local = clock.local_date(zones[invoice.customer_id - 1])
        if invoice.due_date <= (local or zone_days.earliest):
            expected.add(invoice.id)
    assert {row.id for row in rows} == expected


@pytest.mark.parametrize("path", ["batch", "one by one"])
def test_a_zone_that_changes_during_the_pass_is_judged_where_the_customer_is_now(
    db_path: Path, clock: FixedClock, edit: Callable[..., None], path: str
) -> None:
    """The pass reads the zones once, at its start. A customer moved meanwhile to a zone
    the pass did not read (UTC-12, still 30 November; the company's, whose date the pass
    did not count) is not charged early: the Python check judges its date where the
    customer is now."""
    from antaeus_cli.billing.sources import ClaimContext, DueSource

    make_db(db_path, world(["Asia/Tokyo", "Asia/Tokyo", "Asia/Tokyo", "Asia/Tokyo"]), clock)
    pass_clock = PassClock(AsOf.parse("2026-11-30T16:00:00Z"), COMPANY)  # 01:00 in Tokyo
    store = Store.open(db_path)
    try:
        run_id, days = begin(store, pass_clock)
        assert days.uniform
        edit("UPDATE customer SET timezone = 'Etc/GMT+12' WHERE id = 2")
        edit("UPDATE customer SET timezone = 'Pacific/Kiritimati' WHERE id = 3")
        # Nobody was in the company's zone (Copenhagen, 17:00 on the 30th) at the start.
        edit("UPDATE customer SET timezone = NULL WHERE id = 4")
        context = ClaimContext(run_id, "bill", "ns", pass_clock)
        source = DueSource(Judged.BILL, days, context, GUARDS_OFF)
        with store.work() as work:
            if path == "batch":
                batch = source.next_batch(work, clock(), 10)
            else:  # the path a row that breaks the batch claim sends its batch down
                batch = source._one_by_one(work, clock(), 10)
    finally:
        store.close()
    assert batch is not None
    assert [a.invoice.id for a in batch.attempts] == [10, 30]
    assert [a.local_date for a in batch.attempts] == [DEC_1, DEC_1]
    assert batch.rejected == []


def test_a_zone_name_that_is_not_utf8_holds_its_customer_and_the_pass_goes_on(
    db_path: Path, clock: FixedClock, bill: Bill, edit: Callable[..., None]
) -> None:
    make_db(db_path, world(["Europe/London", "Europe/London"]), clock)
    edit("UPDATE customer SET timezone = CAST(X'4575726f70652fff' AS TEXT) WHERE id = 2")
    edit("INSERT INTO customer (id, currency, timezone) VALUES (9, 'EUR', CAST(X'ff' AS TEXT))")
    result = bill(FakeProvider(), as_of=AsOf.parse("2026-12-01T12:00:00Z"), company_zone=COMPANY)
    assert result.counts.paid == 1
    assert [item.invoice_id for item in result.counts.operator_items] == [20]


def test_a_named_invoice_is_never_charged_before_its_due_date_where_the_customer_is(
    db_path: Path, clock: FixedClock, bill: Bill, edit: Callable[..., None]
) -> None:
    """The README's fix for an unknown zone: correct it, then retry-failed --invoice.
    --invoice overrides a retry date, not a due date: before the customer's midnight
    the named invoice is refused, and nothing is charged."""
    import pytest

    from antaeus_cli.errors import NotRetryable

    make_db(db_path, world(["Pacific/Kiritimati", "Mars/Base"]), clock)
    early = AsOf.parse("2026-11-30T10:30:00Z")  # 00:30 on 1 December in Kiritimati
    held = bill(FakeProvider(), as_of=early, company_zone=COMPANY)
    assert [item.invoice_id for item in held.counts.operator_items] == [20]
    edit("UPDATE customer SET timezone = 'America/Los_Angeles' WHERE id = 2")
    provider = FakeProvider()
    kiritimati = ZoneInfo("Pacific/Kiritimati")  # the company's 1 December has begun
    with pytest.raises(NotRetryable) as refused:
        bill(
            provider,
            command=Command.RETRY_FAILED,
            invoice_ids=(20,),
            as_of=early,
            company_zone=kiritimati,
        )
    assert str(refused.value) == (
        "invoice 20 is due 2026-12-01, which has not begun in its customer's zone (it is "
        "2026-11-30 there); it is never charged before its due date: retry it once that "
        "date has begun; nothing was charged"
    )
    assert provider.calls == []
    at_midnight = AsOf.parse("2026-12-01T08:00:00Z")
    result = bill(provider, command=Command.RETRY_FAILED, invoice_ids=(20,), as_of=at_midnight)
    assert result.counts.paid == 1


def test_a_retry_whose_customer_moved_during_the_pass_waits_for_its_date_there(
    db_path: Path, clock: FixedClock, bill: Bill, edit: Callable[..., None]
) -> None:
    """The same for a retry: its date is the retry date, not the due date."""
    from antaeus_cli.billing.sources import ClaimContext, DueSource

    make_db(db_path, world(["Asia/Tokyo", "Asia/Tokyo"]), clock)
    bill(FakeProvider(script={10: [DECLINED], 20: [DECLINED]}), as_of=DEC_1)  # retry on the 2nd
    pass_clock = PassClock(AsOf.parse("2026-12-01T16:00:00Z"), COMPANY)  # 01:00 on the 2nd
    store = Store.open(db_path)
    try:
        run_id, days = begin(store, pass_clock, "retry-failed")
        edit("UPDATE customer SET timezone = 'Etc/GMT+12' WHERE id = 2")  # 04:00 on the 1st
        context = ClaimContext(run_id, "retry-failed", "ns", pass_clock)
        source = DueSource(Judged.RETRY, days, context, GUARDS_OFF)
        with store.work() as work:
            batch = source.next_batch(work, clock(), 10)
    finally:
        store.close()
    assert batch is not None
    assert [a.invoice.id for a in batch.attempts] == [10]


def test_a_replayed_decline_is_dated_where_the_customer_is(
    db_path: Path, clock: FixedClock, bill: Bill, sql: Callable[..., list[tuple[Any, ...]]]
) -> None:
    """A crash leaves a decline's answer unrecorded; the pass that replays its key dates
    the decline in the customer's zone (Kiritimati: already the 2nd), not the company's."""
    import pytest

    from tests.fakes import Crash

    make_db(db_path, world(["Pacific/Kiritimati"]), clock)
    provider = FakeProvider(script={10: [DECLINED]}, crash_after_booking={10})
    with pytest.raises(Crash):
        bill(provider, as_of=DEC_1)
    at = AsOf.parse("2026-12-01T10:30:00Z")  # 00:30 on the 2nd in Kiritimati
    result = bill(provider, as_of=at, company_zone=ZoneInfo("UTC"))
    assert result.counts.reconciled == 1
    assert sql("SELECT first_declined_on, next_retry_on FROM invoice") == [
        ("2026-12-02", "2026-12-03")
    ]


def test_the_batch_claim_takes_customers_in_known_zones_itself(
    db_path: Path, clock: FixedClock, edit: Callable[..., None]
) -> None:
    """The SQL prefilter claims what it can; only the rest goes to the Python check."""
    make_db(db_path, world(["Europe/Berlin", None, "Asia/Tokyo"]), clock)
    edit("UPDATE customer SET provider_ref = 'cus_' || id")
    pass_clock = PassClock(AsOf.parse("2026-12-01T12:00:00Z"), COMPANY)
    store = Store.open(db_path)
    try:
        run_id, days = begin(store, pass_clock)
        with store.transaction() as conn:
            found = claims.claim_due(
                conn, claims.Due.BILL, days, claims.BEFORE_FIRST, 10, namespace="ns",
                run_id=run_id, command="bill", now=clock(), amount=GUARDS_OFF,
                latest=claims.FRESH,
            )  # fmt: skip
    finally:
        store.close()
    assert found is not None
    assert found.others == []
    assert [(a.invoice.id, a.invoice.customer_ref, a.local_date) for a in found.attempts] == [
        (10, "cus_1", DEC_1),
        (20, "cus_2", DEC_1),
        (30, "cus_3", DEC_1),
    ]
