"""Claims: choosing what is due and writing attempt rows before any provider call.

Every function here runs inside a write transaction the caller opened with
`Store.transaction()`: what is read and what is claimed are one atomic step.
"""

from __future__ import annotations

import enum
import functools
import json
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from antaeus_cli.domain.attempt import Attempt
from antaeus_cli.domain.clock import ZoneDays
from antaeus_cli.domain.edits import shown
from antaeus_cli.domain.guards import GUARDS_OFF, AmountGuard
from antaeus_cli.domain.invoice import (
    MAX_ATTEMPT_NO,
    MAX_REF_LENGTH,
    NEVER_DECLINED,
    STATUS_BY_VALUE,
    DunningState,
    Invoice,
    InvoiceRow,
    InvoiceStatus,
    Rejection,
)
from antaeus_cli.domain.judgement import held_status
from antaeus_cli.domain.money import CURRENCIES, MAX_CHARGE_MINOR, Money
from antaeus_cli.errors import UnknownStatus
from antaeus_cli.store import outbox
from antaeus_cli.store.database import lenient_text

# The invoice's latest attempt, as attempt_no * 16, + 8 if it was declined, + 4 if the
# card said never (a hard decline, or one that needs the customer), + 2 if it charged,
# + 1 if it is still open: one index probe answers "which key comes next", "is one in
# flight", "was it charged already" (an invoice set back to PENDING by hand after it
# was paid), "did its card say never" and "did a tripped breaker hand it back".
_LATEST = (
    "coalesce((SELECT a.attempt_no * 16 "
    "+ 8 * (a.outcome = 'declined' OR a.outcome = 'declined_hard' "
    "OR a.outcome = 'needs_customer') "
    "+ 4 * (a.outcome = 'declined_hard' OR a.outcome = 'needs_customer') "
    "+ 2 * (a.outcome = 'charged') + (a.finished_at IS NULL) "
    "FROM payment_attempt a WHERE a.invoice_id = i.id ORDER BY a.attempt_no DESC LIMIT 1), 0)"
)


class Latest(NamedTuple):
    """Which invoices a walk takes, by their latest attempt (see _LATEST): `bits` of it
    must be `want`. Every walk takes none open, none charged, none whose card said
    never; bill's first walk none that a tripped breaker handed back, its second only
    those (charged after the pass has judged its fresh first charges)."""

    bits: int
    want: int = 0

    @property
    def sql(self) -> str:
        return f"{_LATEST} & {self.bits:d} = {self.want:d}"


CLEAN = Latest(7)
FRESH = Latest(15)
HANDED_BACK = Latest(15, 8)
# ... and every one a tripped breaker handed back, for the judgement to judge: those
# whose card said never too (held for their customer, never charged again).
ANY_HANDED_BACK = Latest(11, 8)
_ROW_COLUMNS = (
    "i.id, i.customer_id, i.amount, i.currency, c.currency, i.status, "
    f"i.decline_count, i.first_declined_on, {_LATEST}, c.provider_ref, c.timezone, "
    "i.due_date, i.next_retry_on, i.failure_code, i.failure_detail"
)
_CUSTOMER = "LEFT JOIN customer c ON c.id = i.customer_id"
# Guard rail: another invoice that bills the same customer for the same month (by its
# due date), so that a pass holds both rather than charge twice for one period. Every
# invoice counts but an UNCOLLECTIBLE one (the month was given up) and a VOID one (an
# operator said it is not owed), whatever it is held for: what a pass decides about one
# row never changes what it decides about its twin, whatever the order or the batch.
# (A charge a VOID invoice made would still count, by the money: MONTH_CHARGED; but
# none is voided once charged.) One probe of invoice_by_customer(customer_id, due_date).
DUPLICATE = (
    "(SELECT min(d.id) FROM invoice d INDEXED BY invoice_by_customer "
    "WHERE d.customer_id = i.customer_id "
    "AND d.due_date BETWEEN substr(i.due_date, 1, 7) || '-01' "
    "AND substr(i.due_date, 1, 7) || '-31' AND d.id <> i.id "
    "AND d.status <> 'UNCOLLECTIBLE' AND d.status <> 'VOID')"
)
# Guard rail: an amount far above what the customer usually pays, as
# domain.guards.AmountGuard defines it, in its counting form: more than half of the
# customer's paid amounts are below amount / factor. The number of paid invoices when
# the amount is unusual, else NULL. From the covering index invoice_paid_by_customer
# alone: the paid amounts below amount / factor first, one seek and usually none to
# step over; only when there are some, all of the customer's paid invoices.
# What the customer paid before this pass, whatever its claims have paid since (one
# probe per paid invoice, made only on those paths): the rule does not depend on the
# batch size, and a dry run, which counts what was paid when it began, agrees.
# :guard_run is the pass's run (NULL for a dry run, which has paid nothing).
_PAID = (
    "FROM invoice p INDEXED BY invoice_paid_by_customer "
    "WHERE p.customer_id = i.customer_id AND p.currency = i.currency AND p.status = 'PAID' "
    "AND NOT EXISTS (SELECT 1 FROM payment_attempt q WHERE q.invoice_id = p.id "
    "AND q.settled_by_run_id = :guard_run AND q.outcome = 'charged')"
)
ANOMALY = (
    "(SELECT CASE WHEN b.below > 0 THEN (SELECT CASE WHEN count(*) >= :history "
    f"AND 2 * b.below > count(*) THEN count(*) END {_PAID}) END "
    # p.amount * factor < amount, for whole numbers, without a product that overflows
    f"FROM (SELECT count(*) AS below {_PAID} AND p.amount <= (i.amount - 1) / :factor) b)"
)
# ... and the median it is judged against, for the rows the Python check sees.
USUAL = (
    f"CASE WHEN {ANOMALY} IS NOT NULL THEN (SELECT w.amount FROM (SELECT p.amount, "
    "row_number() OVER (ORDER BY p.amount) AS r, count(*) OVER () AS n "
    f"{_PAID}) w WHERE w.r = w.n / 2 + 1) END"
)
# The money side of the same rule: the key of a charge for the customer's month, by
# another invoice, that succeeded or may have (charged, or open), whatever became of
# the invoice rows since: the month is the one recorded with the charge. One probe of
# the index payment_attempt_period. An invoice held for its month does not count the
# charges its hold named (domain.judgement.money_taken quotes the key): an operator's
# word on that hold releases those, and only those; a charge for the month made since
# the hold, which the operator was not shown, holds it again.
MONTH_CHARGED = (
    "(SELECT m.idempotency_key FROM payment_attempt m INDEXED BY payment_attempt_period "
    "WHERE m.customer_id = i.customer_id AND m.period = substr(i.due_date, 1, 7) "
    "AND m.invoice_id <> i.id AND (m.outcome = 'charged' OR m.finished_at IS NULL) "
    "AND NOT (i.status = 'NEEDS_OPERATOR' AND i.failure_code = 'duplicate_period' "
    "AND instr(coalesce(i.failure_detail, ''), m.idempotency_key) > 0) LIMIT 1)"
)
# ... for a later claim of invoices an operator named in one word: not counting the
# given-up ones an earlier claim of the same word held (so no longer UNCOLLECTIBLE), so
# that every claim of the word judges twins as the database stood when the pass began.
DUPLICATE_BUT_HELD = (
    f"{DUPLICATE[:-1]} AND d.id NOT IN (SELECT value FROM json_each(:given_up_held)))"
)
_FROM = f"FROM invoice i {_CUSTOMER}"

# The SQL form of domain.invoice.check_chargeable, used to claim a batch in one
# statement. It is only a prefilter: every row it does not accept goes through the
# Python check, which stays the authority. A property test keeps the two in step.
# (the codes are three ASCII capitals: domain.currencies keeps only such)
_KNOWN_CURRENCY = "i.currency IN (" + ", ".join(f"'{code}'" for code in CURRENCIES) + ")"
CHARGEABLE_SQL = (
    f"coalesce(typeof(i.amount) = 'integer' AND i.amount BETWEEN 1 AND {MAX_CHARGE_MINOR:d} "
    f"AND typeof(i.currency) = 'text' AND {_KNOWN_CURRENCY} "
    "AND typeof(i.customer_id) = 'integer' AND c.currency = i.currency "
    "AND (c.provider_ref IS NULL OR (typeof(c.provider_ref) = 'text' "
    f"AND length(c.provider_ref) BETWEEN 1 AND {MAX_REF_LENGTH:d} "
    "AND c.provider_ref NOT GLOB '*[^!-~]*')), 0)"
)


_CURRENCY = {str(c): c for c in CURRENCIES}
# Where keyset pagination starts: before every row id, the negative ones included
# (a row id may be anything from -2**63 up; SQLite compares it with a REAL exactly).
BEFORE_FIRST = float("-inf")
_new = tuple.__new__


class Days(NamedTuple):
    """The SQL form of domain.clock.ZoneDays: each zone's local date at the pass's moment,
    built once per pass. `local` is the local date of customer `z` by its zone: a CASE
    over the zones that occur (NULL for a zone the zone database does not know)."""

    local: str
    params: dict[str, object]
    uniform: bool  # every known zone is on the same date: no invoice needs its zone


def days_sql(days: ZoneDays) -> Days:
    whens = "".join(f" WHEN z.timezone = :zone{n:d} THEN :day{n:d}" for n in range(len(days.known)))
    params: dict[str, object] = {
        "earliest": days.earliest.isoformat(),
        "latest": days.latest.isoformat(),
        "company": days.company.isoformat(),
        "zones": json.dumps(list(days.known)),
        "company_used": int(days.company_used),
    }
    for n, (name, day) in enumerate(days.known.items()):
        params[f"zone{n:d}"], params[f"day{n:d}"] = name, day.isoformat()
    local = f"CASE WHEN z.timezone IS NULL THEN :company{whens} END"
    # `uniform` is for speed only: the lookup gives the same dates (not mutated)
    return Days(local, params, days.earliest == days.latest)  # pragma: no mutate


# The zones customers have, one index probe each: skipping from one name to the next
# through customer_by_timezone reads as many entries as there are zones, not customers;
# and NULL if some customers have none (one more probe).
_ZONES = (
    "WITH RECURSIVE z(name) AS (SELECT min(timezone) FROM customer WHERE timezone IS NOT NULL "
    "UNION ALL SELECT (SELECT min(timezone) FROM customer WHERE timezone > z.name) FROM z "
    "WHERE z.name IS NOT NULL) SELECT CAST(name AS BLOB) FROM z WHERE name IS NOT NULL "
    "UNION ALL SELECT NULL WHERE EXISTS (SELECT 1 FROM customer WHERE timezone IS NULL)"
)


def zones(conn: sqlite3.Connection) -> list[str | None]:
    """The distinct zone names customers have, as stored (known or not), and None when
    some customers have none. Read as bytes: a name that is not UTF-8 is an unknown
    zone (its customers' invoices are held), not a pass that cannot start."""
    return [None if row[0] is None else lenient_text(row[0]) for row in conn.execute(_ZONES)]


# The customers whose zone is known, for the claim's prefilter: the Python check holds
# the others (domain.clock.unknown_zone), and judges a zone that appeared mid-pass.
# A customer without a zone only when the company's date was counted (some customers
# had none when the pass began): else `earliest` may be ahead of the company's date.
KNOWN_ZONE = (
    "(CASE WHEN c.timezone IS NULL THEN :company_used "
    "ELSE c.timezone IN (SELECT value FROM json_each(:zones)) END)"
)


class Due(enum.Enum):
    """Which invoices a pass charges: the partial index to walk, its status, and the date
    that must have begun in the customer's zone (domain.clock: `date <= local date`).

    The index is named outright (INDEXED BY): keyset pagination must walk it in id
    order, and a planner that picked another index for `status = ?` would sort every
    due invoice for every batch.
    """

    BILL = ("invoice_pending", "PENDING", "due_date")
    RETRY = ("invoice_failed", "FAILED", "next_retry_on")

    @property
    def invoices(self) -> str:
        return f"invoice i INDEXED BY {self.value[0]}"

    @property
    def status(self) -> InvoiceStatus:
        """The status every invoice it selects is in."""
        return STATUS_BY_VALUE[self.value[1]]

    def condition(self, days: Days) -> str:
        """Due where the date has begun: by `earliest` it has begun everywhere, after
        `latest` nowhere; in between (a day or so around midnights) the customer's
        zone decides, looked up for those invoices only. A customer whose zone is
        unknown (or who does not exist) counts from `earliest`, to be held then. A
        retry's due date must have begun too: a retry date never charges early."""
        begun = [_begun(f"i.{self.value[2]}", days)]
        if self is Due.RETRY:
            # SQLite reads a column's name in any case: its case mutants change nothing
            begun.append(_begun("i.due_date", days))  # pragma: no mutate
        # SQLite reads AND in any case (a fragment, which the SQL rule does not excuse)
        both = " AND ".join(begun)  # pragma: no mutate
        return f"i.status = '{self.value[1]}' AND " + both


def _begun(on: str, days: Days) -> str:
    return (
        f"{on} <= :latest AND ({on} <= :earliest "
        f"OR {on} <= (SELECT {days.local} FROM customer z WHERE z.id = i.customer_id))"
    )


class Guards(NamedTuple):
    """The guard rails every selection of invoices is read with, on every path: the
    judgement (domain.judgement) decides what an operator's word releases."""

    amount: AmountGuard = GUARDS_OFF
    # given-up invoices an earlier claim of the same named word held (DUPLICATE_BUT_HELD)
    given_up_held: tuple[int, ...] = ()
    run_id: int | None = None  # the pass's run, whose own payments _PAID leaves out

    @property
    def unusual(self) -> str:
        """Not NULL when the amount is unusual for the customer (see ANOMALY)."""
        return ANOMALY if self.amount.on else "NULL"

    @property
    def columns(self) -> str:
        """The guard columns of a row for the judgement: duplicate_of, usual_amount,
        month_charged."""
        duplicate = DUPLICATE_BUT_HELD if self.given_up_held else DUPLICATE
        return f"{duplicate}, {USUAL if self.amount.on else 'NULL'}, {MONTH_CHARGED}"

    @property
    def params(self) -> dict[str, object]:
        return {
            "factor": self.amount.factor,
            "history": self.amount.history,
            "given_up_held": json.dumps(self.given_up_held),
            "guard_run": self.run_id,
        }


class ClaimedBatch(NamedTuple):
    attempts: list[Attempt]  # claimed in one statement: chargeable, not in flight
    others: list[InvoiceRow]  # the rest of the range, for the Python check to judge
    upto: int  # the last invoice id the batch covers


def claim_due(
    conn: sqlite3.Connection,
    due: Due,
    days: Days,
    after_id: float,
    limit: int,
    *,
    namespace: str,
    run_id: int,
    command: str,
    now: datetime,
    amount: AmountGuard,
    latest: Latest,
) -> ClaimedBatch | None:
    """Claim the next `limit` due invoices after `after_id` in one INSERT ... SELECT.

    Keyset pagination: each batch is an index range scan, however large the table.
    Returns None when nothing is due past `after_id`. `latest`: which invoices the
    statement takes by their latest attempt (bill's first walk, its second, or a
    retry's); the judgement judges the rest.
    """
    guards = Guards(amount, run_id=run_id)
    where, local_date = due.condition(days), _local_date(days)
    params = {**days.params, "after": after_id, "limit": limit, **guards.params}
    upto, due_count = conn.execute(
        f"SELECT max(id), count(*) FROM (SELECT i.id FROM {due.invoices} "
        f"WHERE {where} AND i.id > :after ORDER BY i.id LIMIT :limit)",
        params,
    ).fetchone()
    if upto is None:
        return None
    params["upto"] = upto
    in_range = f"{where} AND i.id > :after AND i.id <= :upto"
    # A fact read once per batch: whether any invoice of the range was ever tried. The
    # first pass over a month's invoices finds none, and then each row's latest attempt
    # is known to be none (0) without a probe per row.
    tried = conn.execute(_TRIED, params).fetchone() is not None
    # Not mutated: probing every row (`tried or True`) finds the same latest attempts,
    # only slower; the other way, taking a tried range for a fresh one, is what
    # test_a_range_with_an_invoice_tried_before_reads_every_latest_attempt kills.
    latest_sql = _LATEST if tried else "0"  # pragma: no mutate
    # MATERIALIZED: the latest-attempt probe runs once per invoice, not once per use.
    # No ORDER BY: it cost a temporary B-tree per batch. The engine charges in invoice
    # order because _attempts sorts the returned rows; attempt ids carry no order (the
    # rows the Python check accepts are claimed after these, whatever their invoice).
    # pragma: no mutate start - SQLite reads names, like keywords, in any case, and
    # rows are read by position: the case mutants of this statement change nothing (the
    # key's form and the bound parameters are pinned by test_claims and every claim)
    claimed = conn.execute(
        "WITH i AS MATERIALIZED (SELECT i.id, i.customer_id, i.amount, i.currency, i.status, "
        f"i.due_date, {latest_sql} AS latest, {DUPLICATE} AS duplicate, "
        f"{guards.unusual} AS unusual, {MONTH_CHARGED} AS month "
        f"FROM {due.invoices} "
        f"WHERE {in_range}) "
        "INSERT INTO payment_attempt (invoice_id, customer_id, customer_ref, attempt_no, "
        "idempotency_key, run_id, command, amount, currency, from_status, started_at, period) "
        "SELECT i.id, i.customer_id, c.provider_ref, (i.latest >> 4) + 1, "
        # The key, as domain.invoice.idempotency_key builds it; test_claims pins the two.
        ":ns || '-inv-' || i.id || '-' || ((i.latest >> 4) + 1), "
        ":run, :command, i.amount, i.currency, i.status, :stamp, substr(i.due_date, 1, 7) "
        "FROM i LEFT JOIN customer c ON c.id = i.customer_id "
        "WHERE i.latest & :bits = :want AND i.duplicate IS NULL AND i.unusual IS NULL "
        "AND i.month IS NULL "
        f"AND {CHARGEABLE_SQL} AND {KNOWN_ZONE} "
        "RETURNING id, invoice_id, customer_id, attempt_no, idempotency_key, amount, currency, "
        f"customer_ref{local_date}",
        {
            **params,
            "ns": namespace,
            "run": run_id,
            "command": command,
            "stamp": now.isoformat(),
            "bits": latest.bits,
            "want": latest.want,
        },
    ).fetchall()
    # pragma: no mutate end
    others: list[tuple[Any, ...]] = []
    # what the prefilter left, for the Python check to judge; with nothing left, the query
    # would only find nothing (not mutated: speed only)
    if len(claimed) < due_count:  # pragma: no mutate
        params["claimed"] = json.dumps([row[1] for row in claimed])
        # pragma: no mutate start - SQLite reads names, like keywords, in any case, and
        # rows are read by position: the case mutants of this statement change nothing
        others = conn.execute(
            f"SELECT {_ROW_COLUMNS}, {guards.columns} FROM {due.invoices} {_CUSTOMER} "
            f"WHERE {in_range} AND i.id NOT IN (SELECT value FROM json_each(:claimed)) "
            "ORDER BY i.id",
            params,
        ).fetchall()
        # pragma: no mutate end
    day = _day(str(days.params["earliest"])) if days.uniform else None
    attempts = _attempts(conn, claimed, due.status, day)
    return ClaimedBatch(attempts, [_invoice_row(row) for row in others], int(upto))


# Whether any attempt was made for an invoice of the range (one probe of the index on
# payment_attempt(invoice_id, attempt_no)). An attempt of an invoice in the range always
# falls in it: invoice ids are integers, and an attempt names its invoice's id.
_TRIED = "SELECT 1 FROM payment_attempt WHERE invoice_id > :after AND invoice_id <= :upto LIMIT 1"


def _local_date(days: Days) -> str:
    """The claimed customer's local date, for the attempt's dunning dates: nothing to
    return when every zone is on the same date (the caller has it), else looked up by
    the customer's zone."""
    if days.uniform:
        return ""
    return f", (SELECT {days.local} FROM customer z WHERE z.id = payment_attempt.customer_id)"


def _attempts(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], status: InvoiceStatus, day: date | None
) -> list[Attempt]:
    """Attempts from RETURNING rows, in invoice order, with each invoice's dunning state:
    every row was claimed in `status`; `day` is every customer's local date, or None when
    each row carries its own."""
    # pragma: no mutate start - equivalent: one INSERT ... SELECT writes its rows, and
    # so numbers them, in invoice order already (the sort keeps that promise should the
    # plan change); and reading the dunning state of more invoices, or of none when
    # none was declined, gives the same states (an invoice never declined is PENDING)
    rows.sort(key=lambda row: row[1])
    unpaid_before = status is not InvoiceStatus.PENDING
    dunning = _dunning(conn, [row[1] for row in rows]) if unpaid_before else {}
    # pragma: no mutate end
    # _new(Cls, fields) is what Cls(*fields) does, minus the NamedTuple's Python-level
    # __new__: a third of the cost of building these, a million times a pass.
    return [
        _new(
            Attempt,
            (
                _new(Invoice, (row[1], row[2], _new(Money, (row[5], _CURRENCY[row[6]])), row[7])),
                row[3],
                row[4],
                dunning.get(row[1], NEVER_DECLINED),
                status,
                False,
                row[0],
                None,
                None,
                None,
                day or _day(row[8]),
            ),
        )
        for row in rows
    ]


@functools.lru_cache(maxsize=64)
def _day(text: str) -> date:
    return date.fromisoformat(text)


def _dunning(conn: sqlite3.Connection, invoice_ids: list[int]) -> dict[int, DunningState]:
    # pragma: no mutate start - SQLite reads names, like keywords, in any case, and
    # rows are read by position: the case mutants of this statement change nothing
    found = conn.execute(
        "SELECT id, decline_count, first_declined_on FROM invoice "
        "WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(invoice_ids),),
    )
    # pragma: no mutate end
    return {
        row[0]: DunningState(row[1], date.fromisoformat(row[2]) if row[2] else None)
        for row in found
    }


def due_batch(
    conn: sqlite3.Connection,
    due: Due,
    days: Days,
    after_id: float,
    limit: int,
    *,
    amount: AmountGuard,
) -> list[InvoiceRow]:
    """The next due invoices after `after_id`, in id order, as rows to check (read-only)."""
    guards, where = Guards(amount), due.condition(days)
    rows = conn.execute(
        f"SELECT {_ROW_COLUMNS}, {guards.columns} FROM {due.invoices} {_CUSTOMER} "
        f"WHERE {where} AND i.id > :after ORDER BY i.id LIMIT :limit",
        {**days.params, "after": after_id, "limit": limit, **guards.params},
    ).fetchall()
    return [_invoice_row(row) for row in rows]


def count_due(conn: sqlite3.Connection, due: Due, days: Days, only: Latest | None = None) -> int:
    """How many invoices a pass would select; for progress reporting only."""
    where = due.condition(days) + ("" if only is None else f" AND {only.sql}")
    row = conn.execute(
        f"SELECT count(*) FROM {due.invoices} WHERE {where}",
        days.params,
    ).fetchone()
    return int(row[0])


def invoices_by_id(
    conn: sqlite3.Connection, ids: Sequence[int], guards: Guards
) -> dict[int, InvoiceRow]:
    """Invoices by id, read with `guards` (what an operator's word releases is the
    judgement's to say). Text a hand edit stored as bytes that are not UTF-8 is read
    with U+FFFD in their place: the judgement holds what it cannot charge, and a
    status no rule knows is refused."""
    factory = conn.text_factory
    conn.text_factory = lenient_text
    try:
        found = conn.execute(
            f"SELECT {_ROW_COLUMNS}, {guards.columns} {_FROM} "
            # SQLite reads keywords in any case: the line's only survivors changed theirs
            "WHERE i.id IN (SELECT value FROM json_each(:ids))",  # pragma: no mutate
            {"ids": json.dumps(list(ids)), **guards.params},
        ).fetchall()
    finally:
        conn.text_factory = factory
    unknown = [(row[0], row[5]) for row in found if row[5] not in STATUS_BY_VALUE]
    if unknown:
        raise UnknownStatus(unknown_status(unknown) + "; nothing was charged")
    return {int(row[0]): _invoice_row(row) for row in found}


def unknown_status(rows: Sequence[tuple[object, object]]) -> str:
    """Invoices whose status no rule knows (set by hand), and what to do."""
    named = "; ".join(
        f"invoice {invoice_id} has the status {shown(repr(status))}" for invoice_id, status in rows
    )
    known = ", ".join(status.value for status in InvoiceStatus)
    return f"{named}, which antaeus does not know (set by hand?): set it by hand to one of {known}"


def _invoice_row(row: tuple[Any, ...]) -> InvoiceRow:
    """Columns the schema constrains are typed; the others stay raw, to be checked."""
    latest, status = row[8], STATUS_BY_VALUE[row[5]]
    if type(latest) is not int:  # attempt numbers written by hand past MAX_ATTEMPT_NO
        latest = MAX_ATTEMPT_NO << 4
    return InvoiceRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        status,
        _dunning_state(row[6], row[7]),
        latest >> 4,
        bool(latest & 1),
        row[9],
        bool(latest & 2),
        row[15],
        row[16],
        row[10],
        row[11],
        row[12],
        row[17],
        bool(latest & 4),
        status is InvoiceStatus.PENDING and bool(latest & 8),
        row[13],
        row[14],
    )


def _dunning_state(declines: int, first: str | None) -> DunningState:
    if not declines and first is None:  # pragma: no mutate - DunningState() is the same value
        return NEVER_DECLINED  # shared, for speed
    return DunningState(declines, date.fromisoformat(first) if first else None)


def claim(
    conn: sqlite3.Connection,
    *,
    run_id: int,
    command: str,
    now: datetime,
    attempts: Sequence[Attempt],
) -> list[Attempt]:
    """Write attempt rows for invoices the Python check approved, before any call;
    return them with the row ids SQLite gave them.

    The invoice itself is not touched until its answer is recorded: the open attempt
    row is what says the charge is in flight. The claim is atomic because the rows
    were read in this same write transaction, and an invoice with an open attempt is
    never claimed again.
    """
    stamp = now.isoformat()
    claimed = []
    for a in attempts:
        # pragma: no mutate start - SQLite reads names, like keywords, in any case, and
        # rows are read by position: the case mutants of this statement change nothing
        (row_id,) = conn.execute(
            "INSERT INTO payment_attempt (invoice_id, customer_id, customer_ref, attempt_no, "
            "idempotency_key, run_id, command, amount, currency, from_status, started_at, "
            "period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT substr(due_date, 1, 7) FROM invoice WHERE id = ?)) RETURNING id",
            (
                a.invoice.id,
                a.invoice.customer_id,
                a.invoice.customer_ref,
                a.attempt_no,
                a.key,
                run_id,
                command,
                a.invoice.amount.minor,
                a.invoice.amount.currency,
                a.from_status,
                stamp,
                a.invoice.id,
            ),
        ).fetchone()
        # pragma: no mutate end
        claimed.append(a._replace(id=row_id))
    return claimed


def due_ids(
    conn: sqlite3.Connection,
    due: Due,
    days: Days,
    after_id: float,
    limit: int,
    *,
    only: Latest | None = None,
) -> list[int]:
    """Only the ids of the next due invoices (`only`: those whose latest attempt is so),
    for claiming them one at a time."""
    where = due.condition(days) + ("" if only is None else f" AND {only.sql}")
    return [
        int(row[0])
        for row in conn.execute(
            f"SELECT i.id FROM {due.invoices} WHERE {where} AND i.id > :after "
            # SQLite reads keywords in any case: the line's only survivors changed theirs
            "ORDER BY i.id LIMIT :limit",  # pragma: no mutate
            {**days.params, "after": after_id, "limit": limit},
        )
    ]


def reject(
    conn: sqlite3.Connection, *, now: datetime, rejected: Sequence[tuple[InvoiceRow, Rejection]]
) -> None:
    """Hold invoices the judgement refused, without calling the provider: for an
    operator, or (the card said never) for the customer, whose withdrawn notice of
    that answer is then delivered after all."""
    stamp = now.isoformat()
    held = [
        (
            held_status(rejection).value,
            rejection.code.value,
            rejection.detail,
            stamp,
            row.id,
            row.status.value,
        )
        for row, rejection in rejected
    ]
    # pragma: no mutate start - SQLite reads names, like keywords, in any case, and
    # rows are read by position: the case mutants of this statement change nothing
    conn.executemany(
        "UPDATE invoice SET status = ?, failure_code = ?, failure_detail = ?, "
        "next_retry_on = NULL, updated_at = ? WHERE id = ? AND status = ?",
        held,
    )
    # pragma: no mutate end
    awaiting = [
        row.id
        for row, rejection in rejected
        if held_status(rejection) is InvoiceStatus.AWAITING_CUSTOMER
    ]
    if awaiting:
        outbox.reinstate_latest(conn, invoice_ids=awaiting)
