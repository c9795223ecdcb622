"""Seeding: the generated data set, fixture files, and never losing an old database."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.errors import DatabaseBusy, DatabaseExists, FixtureError, InputError
from antaeus_cli.seeding import generate as gen
from antaeus_cli.seeding.fixtures import load_fixture, parse_fixture
from antaeus_cli.seeding.generate import GenerateOptions, generate
from antaeus_cli.seeding.service import refuse_if_not_a_regular_file, seed
from tests.fakes import FixedClock, dead

ROOT = Path(__file__).resolve().parents[2]


def test_the_challenge_data_set() -> None:
    data = generate(GenerateOptions(as_of=date(2026, 11, 25), seed=3))
    invoices = list(data.invoices())
    assert len(list(data.customers())) == 100
    assert len(invoices) == 1000
    pending = [i for i in invoices if i.status == "PENDING"]
    assert len(pending) == 100
    assert {i.due_date for i in pending} == {date(2026, 11, 1)}
    assert all(i.due_date < date(2026, 11, 1) for i in invoices if i.status == "PAID")
    normal = [i for i in invoices if i.currency != "XYZ" and i.amount != 0]
    assert all(1000 <= i.amount <= 50000 for i in normal)


def test_every_outcome_is_planted_in_distinct_customers() -> None:
    data = generate(GenerateOptions(as_of=date(2026, 11, 25), seed=3))
    labels = {
        gen.UNKNOWN_CUSTOMER,
        gen.LOW_BALANCE,
        gen.LOCAL_MISMATCH,
        gen.PROVIDER_MISMATCH,
        gen.ZERO_AMOUNT,
        gen.UNKNOWN_CURRENCY,
    }
    assert set(data.planted) == labels
    planted = [i for ids in data.planted.values() for i in ids]
    assert len(planted) == len(set(planted))
    accounts = {c.id: c.account for c in data.customers()}
    assert sum(1 for a in accounts.values() if a is None) == 3


def test_the_same_seed_gives_the_same_data() -> None:
    def rows(options: GenerateOptions) -> tuple[list[object], list[object]]:
        data = generate(options)
        return list(data.customers()), list(data.invoices())

    options = GenerateOptions(as_of=date(2026, 11, 25), customers=30, seed=11)
    assert rows(options) == rows(options)
    assert rows(options) != rows(GenerateOptions(as_of=options.as_of, customers=30, seed=12))


def test_customers_live_in_a_few_real_zones_of_their_market() -> None:
    from antaeus_cli.domain.clock import zone_named
    from antaeus_cli.seeding.generate import ZONES

    customers = list(generate(GenerateOptions(as_of=date(2026, 11, 25), customers=400)).customers())
    by_currency: dict[str, set[str | None]] = {}
    for customer in customers:
        by_currency.setdefault(customer.currency, set()).add(customer.timezone)
    assert {c: set(z) for c, z in ZONES.items()} == by_currency  # every zone of each market
    assert all(zone_named(name) is not None for zones in ZONES.values() for name in zones)


def test_a_share_of_customers_have_the_locale_of_where_they_live_and_most_the_company_s(
    tmp_path: Path,
) -> None:
    from antaeus_cli.domain.locales import parse_locale
    from antaeus_cli.seeding.generate import LOCALES

    options = GenerateOptions(as_of=date(2026, 12, 1), customers=2000, seed=5)
    customers = list(generate(options).customers())
    spoken = [c for c in customers if c.locale is not None]
    assert all(c.locale == LOCALES[str(c.timezone)] for c in spoken)
    assert {c.locale for c in spoken} == set(LOCALES.values()) == {
        "da-DK", "sv-SE", "de-DE", "en-GB",
    }  # fmt: skip
    assert all(parse_locale(tag) == tag for tag in LOCALES.values())  # stored as import would
    assert 0.1 < len(spoken) / len(customers) < 0.35
    local = [c for c in customers if c.timezone in LOCALES]
    assert [c.locale for c in local].count(None) > len(local) / 2  # most: the company's

    db = tmp_path / "antaeus.db"
    seed(db, generate(options), force=False, ledger_path=None, clock=FixedClock(), is_alive=dead)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT id, locale FROM customer ORDER BY id").fetchall()
    assert stored == [(c.id, c.locale) for c in customers]


def test_seed_refuses_an_existing_database_without_force(tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    db.write_bytes(b"precious")
    data = generate(GenerateOptions(as_of=date(2026, 11, 25), customers=3))
    with pytest.raises(DatabaseExists, match="--force"):
        seed(db, data, force=False, ledger_path=None, clock=FixedClock(), is_alive=dead)
    assert db.read_bytes() == b"precious"


def test_force_moves_the_old_database_aside_instead_of_deleting_it(tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    db.write_bytes(b"precious")
    data = generate(GenerateOptions(as_of=date(2026, 11, 25), customers=3))
    result = seed(db, data, force=True, ledger_path=None, clock=FixedClock(), is_alive=dead)
    assert [p.read_bytes() for p in result.moved_aside] == [b"precious"]
    assert sqlite3.connect(db).execute("SELECT count(*) FROM customer").fetchone() == (3,)


def test_a_seed_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    db = tmp_path / "antaeus.db"
    bad = parse_fixture(
        {
            "customers": [{"id": 1, "currency": "EUR"}],
            "invoices": [
                {
                    "id": 1,
                    "customer_id": 1,
                    "amount": 2**62,
                    "currency": "EUR",
                    "due_date": "2026-12-01",
                    "status": "FAILED",
                    "next_retry_on": "2026-12-02",
                    "decline_count": 1,
                },
                {
                    "id": 1 + 1,
                    "customer_id": 1,
                    "amount": 5,
                    "currency": "EUR",
                    "due_date": "2026-12-01",
                    "status": "PAID",
                },
            ],
        },
        "inline",
    )
    result = seed(db, bad, force=False, ledger_path=None, clock=FixedClock(), is_alive=dead)
    assert result.invoices == {"FAILED": 1, "PAID": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["antaeus.db"]


def test_the_shipped_fixtures_load() -> None:
    paths = sorted((ROOT / "fixtures").glob("*.json"))
    assert [p.name for p in paths] == ["every-outcome.json", "guard-rails.json", "hostile.json"]
    for path in paths:
        assert list(load_fixture(path).invoices()), path


BASE: dict[str, object] = {
    "customers": [{"id": 1, "currency": "EUR"}],
    "invoices": [
        {"id": 1, "customer_id": 1, "amount": 100, "currency": "EUR", "due_date": "2026-12-01"}
    ],
}


def _with(path: str, value: object) -> object:
    data = json.loads(json.dumps(BASE))
    target = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "must be an object"),
        (_with("invoices", {}), "must be a list"),
        (_with("customers", KeyError), "missing customers"),
        (_with("invoices.0.amount", 12.5), "amount must be a whole number"),
        (_with("invoices.0.amount", "100"), "amount must be a whole number"),
        (_with("invoices.0.amount", True), "amount must be a whole number"),
        (_with("invoices.0.amount", None), "amount must be a whole number"),
        (_with("invoices.0.amount", 2**70), "between"),
        (_with("invoices.0.currency", 978), "currency must be a string"),
        (_with("invoices.0.due_date", "2026-02-30"), "due_date"),
        (_with("invoices.0.due_date", "yesterday"), "due_date"),
        (_with("invoices.0.customer_id", 2), "no customer 2"),
        (_with("invoices.0.status", "PROCESSING"), "status must be one of"),
        (_with("invoices.0.status", "FAILED"), "next_retry_on"),
        (_with("invoices.0.colour", "blue"), "unknown field 'colour'"),
        (_with("customers.0.account", "rich"), "must be an object"),
        (_with("customers.0.account", {"currency": "EUR", "balance": -1}), "between"),
        (_with("customers.0.id", 0), "between"),
        ({**BASE, "invoices": BASE["invoices"] * 2}, "appears twice"),  # type: ignore[operator]
    ],
)
def test_fixtures_with_wrong_shapes_are_refused_at_the_spot(data: object, fragment: str) -> None:
    with pytest.raises(FixtureError, match=fragment):
        parse_fixture(data, "f.json")


@pytest.mark.parametrize(
    ("given", "stored"),
    [("da-DK", "da-DK"), ("da_dk", "da-DK"), ("SV-SE", "sv-SE"), ("zh-TW", "zh-Hant-TW"),
     (None, None)],
)  # fmt: skip
def test_a_fixture_customer_s_locale_is_kept_in_its_canonical_spelling(
    given: str | None, stored: str | None
) -> None:
    data = parse_fixture(_with("customers.0.locale", given), "f.json")
    assert next(iter(data.customers())).locale == stored
    assert next(iter(parse_fixture(BASE, "f.json").customers())).locale is None


@pytest.mark.parametrize(
    ("locale", "fragment"),
    [
        ("xx-YY", r"customers\[0\]\.locale: unknown locale 'xx-YY': expected a BCP 47 tag"),
        ("", "unknown locale ''"),
        (" da-DK", "unknown locale ' da-DK'"),
        ("und", "unknown locale 'und'"),
        ("POSIX", "unknown locale 'POSIX'"),
        ("../x", "unknown locale '../x'"),
        ("da-DK\x00", "unknown locale 'da-DK\\\\x00'"),
        ("da-DK" * 1000, "unknown locale 'da-DKda-DK"),
        (45, "locale must be a string"),
        (["da-DK"], "locale must be a string"),
    ],
)
def test_a_fixture_customer_s_locale_cldr_does_not_know_is_refused_at_the_spot(
    locale: object, fragment: str
) -> None:
    with pytest.raises(FixtureError, match=fragment):
        parse_fixture(_with("customers.0.locale", locale), "f.json")


def test_values_the_schema_can_hold_are_kept_for_the_pass_to_judge() -> None:
    data = parse_fixture(_with("invoices.0.currency", "XYZ'); DROP TABLE invoice;--"), "f.json")
    assert next(iter(data.invoices())).currency.startswith("XYZ")
    negative = parse_fixture(_with("invoices.0.amount", -5), "f.json")
    assert next(iter(negative.invoices())).amount == -5


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{not json", "not valid JSON"), (b"\xff\xfe", "cannot read"), (b"", "not valid JSON")],
)
def test_unreadable_fixture_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(content)
    with pytest.raises(FixtureError, match=fragment):
        load_fixture(path)
    with pytest.raises(FixtureError, match="not found"):
        load_fixture(tmp_path / "missing.json")


def _replaceable(path: Path) -> None:
    seed(
        path,
        generate(GenerateOptions(as_of=date(2026, 12, 1), seed=1, customers=2)),
        force=True,
        ledger_path=None,
        clock=FixedClock(),
        is_alive=dead,
    )


@pytest.mark.parametrize(
    ("make_it", "kind"),
    [
        (os.mkfifo, "named pipe"),
        (lambda p: p.mkdir(), "directory"),
        (lambda p: p.symlink_to(p.with_name("real.db").resolve()), "symbolic link"),
        (lambda p: p.symlink_to("nowhere"), "symbolic link"),  # dangling
    ],
    ids=["fifo", "directory", "symlink", "dangling-symlink"],
)
def test_seed_force_never_replaces_what_is_not_a_regular_file(
    tmp_path: Path, make_it: Any, kind: str
) -> None:
    (tmp_path / "real.db").write_bytes(b"keep me")
    target = tmp_path / "antaeus.db"
    make_it(target)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError, match=kind):
        _replaceable(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "real.db").read_bytes() == b"keep me"


def test_a_device_is_never_replaced() -> None:
    """The check alone, on the real /dev/null: were it to pass, seed would rename the
    device aside, so it is never run through seed here."""
    with pytest.raises(InputError, match="character device"):
        refuse_if_not_a_regular_file(Path(os.devnull))


def test_force_waits_for_no_one_and_keeps_writers_off_the_old_file_until_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process writing to the old database (a transaction open) makes `seed --force`
    refuse, busy, and replace nothing; while seed builds the new file, nothing can
    write to the old one; the new file is then in place and takes writes at once."""
    from antaeus_cli import sqlite_files

    monkeypatch.setattr(sqlite_files, "BUSY_TIMEOUT_S", 0.1)
    db = tmp_path / "antaeus.db"
    options = GenerateOptions(as_of=date(2026, 11, 25), customers=3)
    seed(db, generate(options), force=False, ledger_path=None, clock=FixedClock(), is_alive=dead)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseBusy, match="another process is writing to"):
        seed(db, generate(options), force=True, ledger_path=None, clock=FixedClock(), is_alive=dead)
    writer.execute("ROLLBACK")
    writer.close()
    assert list(tmp_path.glob("antaeus.db.replaced-*")) == []

    tried: list[str] = []

    class Watched:
        """The scenario, with a write to the old file tried while seed reads it."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner
            self.description, self.planted = inner.description, inner.planted

        def customers(self) -> Any:
            other = sqlite3.connect(db, isolation_level=None, timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                tried.append("written")
            except sqlite3.OperationalError as exc:
                tried.append(str(exc))
            finally:
                other.close()
            return self._inner.customers()

        def invoices(self) -> Any:
            return self._inner.invoices()

    result = seed(
        db, Watched(generate(options)), force=True, ledger_path=None, clock=FixedClock(),
        is_alive=dead,
    )  # fmt: skip
    assert tried[0] == "database is locked"
    assert len(result.moved_aside) == 1
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")


def test_the_write_lock_follows_a_file_put_in_the_old_one_s_place_while_it_waited(
    tmp_path: Path,
) -> None:
    """Two `seed --force` at once: the second waits for the first's lock on the old
    file, which the first then moves aside and replaces. The second must hold the lock
    of the file now at the path, not of the one moved aside."""
    import threading

    from antaeus_cli.sqlite_files import writers_held_off

    db = tmp_path / "antaeus.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE t (x)")
    first = sqlite3.connect(db, isolation_level=None)
    first.execute("BEGIN IMMEDIATE")  # the first seed, checking
    seen: list[object] = []

    def second() -> None:
        with writers_held_off(db) as held:
            other = sqlite3.connect(db, isolation_level=None, timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                seen.append("the file at the path takes writes")
            except sqlite3.OperationalError as exc:
                seen.append((held, str(exc)))
            finally:
                other.close()

    waiting = threading.Thread(target=second)
    waiting.start()
    time.sleep(0.3)  # the second is waiting for the old file's lock
    os.replace(db, tmp_path / "antaeus.db.replaced")  # the first moves it aside...
    with closing(sqlite3.connect(db)) as conn:  # ...and puts its new file in place
        conn.execute("CREATE TABLE t (x)")
    first.execute("ROLLBACK")
    first.close()
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    assert seen == [(True, "database is locked")]
