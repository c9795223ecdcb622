"""The simulated provider's own books: accounts and charges, in their own SQLite file.

It is "another system": this tool's database never points into it, and the
simulated provider is the only writer. Charges carry their idempotency key: a
replayed key returns the first answer and never moves money twice, while the key
is retained. Like Stripe, the books may forget a key after a retention period; a
request under a forgotten key is a new charge. A look-up by key finds a charge
however old it is, as listing a customer's PaymentIntents does.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Protocol

from antaeus_cli.errors import NotAnAntaeusDatabase, ProviderSpecError
from antaeus_cli.sqlite_files import connect, set_wal, translate_errors

SIM_APPLICATION_ID = 0x4153494D  # "ASIM"
MEMORY = ":memory:"

SCHEMA_VERSION = 2
OUTCOMES = (
    "charged",
    "declined",
    "declined_hard",
    "needs_customer",
    "processing",
    "customer_not_found",
    "currency_mismatch",
)
_CHARGE_TABLE = f"""CREATE TABLE charge (
        id              INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL,
        invoice_id      INTEGER NOT NULL,
        customer_id     INTEGER NOT NULL,
        amount          INTEGER NOT NULL,
        currency        TEXT NOT NULL,
        outcome         TEXT NOT NULL CHECK (outcome IN ({", ".join(f"'{o}'" for o in OUTCOMES)})),
        created_at      TEXT NOT NULL,
        replays         INTEGER NOT NULL DEFAULT 0
    )"""
_CHARGE_INDEX = "CREATE INDEX charge_by_key ON charge(idempotency_key, id)"
_SCHEMA = (
    """CREATE TABLE account (
        customer_id INTEGER PRIMARY KEY,
        currency    TEXT NOT NULL,
        balance     INTEGER NOT NULL CHECK (typeof(balance) = 'integer' AND balance >= 0)
    )""",
    _CHARGE_TABLE,
    _CHARGE_INDEX,
)
# Version 1 keyed charges by their key alone, so a forgotten key could not be charged
# anew: rebuilt with a row id, the rows kept.
_FROM_V1 = (
    "ALTER TABLE charge RENAME TO charge_v1",
    _CHARGE_TABLE,
    "INSERT INTO charge (idempotency_key, invoice_id, customer_id, amount, currency, outcome, "
    "created_at, replays) SELECT idempotency_key, invoice_id, customer_id, amount, currency, "
    "outcome, created_at, replays FROM charge_v1 ORDER BY created_at",
    "DROP TABLE charge_v1",
    _CHARGE_INDEX,
    f"PRAGMA user_version = {SCHEMA_VERSION:d}",
)
_MONEY_MOVES = frozenset({"charged", "processing"})


def decide(
    account: tuple[str, int] | None, currency: str, amount: int, twist: str | None = None
) -> str:
    """The provider's answer to a first request: account is (currency, balance) or None;
    `twist` is what the simulation drew for this key ('declined_hard', 'needs_customer',
    'processing') or None. Both kinds of books charge by this one rule."""
    if account is None:
        return "customer_not_found"
    if account[0] != currency:
        return "currency_mismatch"
    if twist in ("declined_hard", "needs_customer"):
        return twist
    if account[1] < amount:
        return "declined"
    return twist or "charged"


def moves_money(outcome: str) -> bool:
    return outcome in _MONEY_MOVES


class KeyReused(Exception):
    """An idempotency key came back with different request parameters."""


class Account(NamedTuple):
    customer_id: int
    currency: str
    balance: int


def _retained(created_at: str, now: datetime, retention: timedelta | None) -> bool:
    return retention is None or now - datetime.fromisoformat(created_at) < retention


def default_ledger_path(db_path: Path) -> Path:
    """Where the simulated provider keeps its books unless told otherwise."""
    return db_path.with_name(f"{db_path.stem}.provider{db_path.suffix or '.db'}")


class Books(Protocol):
    """The simulated provider's books: a SQLite file, or plain memory for benchmarks."""

    label: str

    def charge(self, key: str, request: tuple[int, int, int, str], twist: str | None) -> str:
        """Charge once per retained key; a replay returns the recorded outcome.
        `request` is (invoice id, customer id, amount, currency)."""
        ...

    def lookup(self, key: str) -> str | None:
        """The outcome of the first charge under `key`, or None."""
        ...

    def charges(self) -> list[dict[str, object]]: ...

    def close(self) -> None: ...


class SimLedger:
    """Accounts and charges of the simulated provider, in its own SQLite file. Not
    thread-safe: the provider serialises calls into it."""

    def __init__(self, conn: sqlite3.Connection, label: str) -> None:
        self._conn = conn
        self.label = label
        # Set by the provider: its clock, and how long it remembers a key (None: always).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.retention: timedelta | None = None
        self.settle_after = timedelta(0)  # processing charges settle when looked up after it

    @classmethod
    def create(cls, path: Path, accounts: Iterable[Account]) -> SimLedger:
        conn = connect(path, create=True)
        ledger = cls(conn, str(path))
        with translate_errors(path):  # a new, private file: no journal until it is full
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            ledger._init_schema(accounts)
        set_wal(conn, path)
        return ledger

    @classmethod
    def open(cls, path: Path) -> SimLedger:
        if not path.is_file():
            raise ProviderSpecError(
                f"simulated provider ledger '{path}' not found: 'antaeus seed' creates it with "
                "the provider's accounts; or pass ledger=PATH in the provider spec"
            )
        conn = connect(path)
        with translate_errors(path):
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id != SIM_APPLICATION_ID:
            conn.close()
            raise NotAnAntaeusDatabase(
                f"'{path}' is not a simulated provider ledger: pass ledger=PATH with the right file"
            )
        set_wal(conn, path)
        ledger = cls(conn, str(path))
        with translate_errors(path):
            ledger._upgrade()
        return ledger

    def _upgrade(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
                for statement in _FROM_V1:
                    conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _init_schema(self, accounts: Iterable[Account]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO account (customer_id, currency, balance) VALUES (?, ?, ?)",
            ((a.customer_id, a.currency, a.balance) for a in accounts),
        )
        conn.execute(f"PRAGMA application_id = {SIM_APPLICATION_ID:d}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")

    def charge(self, key: str, request: tuple[int, int, int, str], twist: str | None) -> str:
        """Charge once per retained key; a replay returns the recorded outcome.
        `request` is (invoice id, customer id, amount, currency)."""
        conn, now, retention = self._conn, self.clock(), self.retention
        conn.execute("BEGIN IMMEDIATE")
        try:
            first = conn.execute(
                "SELECT id, invoice_id, customer_id, amount, currency, outcome, created_at "
                "FROM charge WHERE idempotency_key = ? ORDER BY id DESC LIMIT 1",
                (key,),
            ).fetchone()
            if first is not None and _retained(first[6], now, retention):
                if tuple(first[1:5]) != request:
                    raise KeyReused(  # noqa: TRY301 - raised inside to roll the transaction back
                        f"idempotency key {key} was first used for invoice {first[1]} "
                        f"({first[3]} {first[4]}), not for invoice {request[0]}"
                    )
                conn.execute("UPDATE charge SET replays = replays + 1 WHERE id = ?", (first[0],))
                outcome = str(first[5])
            else:
                outcome = self._first_charge(request, key, now, twist)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcome

    def lookup(self, key: str) -> str | None:
        """The outcome of the first charge under `key`, however old; a processing charge
        settles (as charged) once `settle_after` has passed since it was made."""
        conn, now, settle_after = self._conn, self.clock(), self.settle_after
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute(
                "SELECT id, outcome, created_at FROM charge WHERE idempotency_key = ? "
                "ORDER BY id LIMIT 1",
                (key,),
            ).fetchone()
            outcome = None if found is None else str(found[1])
            if (
                found is not None
                and outcome == "processing"
                and now - datetime.fromisoformat(found[2]) >= settle_after
            ):
                outcome = "charged"
                conn.execute("UPDATE charge SET outcome = 'charged' WHERE id = ?", (found[0],))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcome

    def _first_charge(
        self, request: tuple[int, int, int, str], key: str, now: datetime, twist: str | None
    ) -> str:
        invoice_id, customer_id, amount, currency = request
        account = self._conn.execute(
            "SELECT currency, balance FROM account WHERE customer_id = ?", (customer_id,)
        ).fetchone()
        outcome = decide(account, currency, amount, twist)
        if moves_money(outcome):
            self._conn.execute(
                "UPDATE account SET balance = balance - ? WHERE customer_id = ?",
                (amount, customer_id),
            )
        self._conn.execute(
            "INSERT INTO charge (idempotency_key, invoice_id, customer_id, amount, currency, "
            "outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, invoice_id, customer_id, amount, currency, outcome, now.isoformat()),
        )
        return outcome

    def accounts_from(self, customer_id: int, limit: int) -> list[tuple[int, str, int]]:
        """(customer id, currency, balance) from `customer_id` on, in id order."""
        rows: list[tuple[int, str, int]] = self._conn.execute(
            "SELECT customer_id, currency, balance FROM account WHERE customer_id >= ? "
            "ORDER BY customer_id LIMIT ?",
            (customer_id, limit),
        ).fetchall()
        return rows

    def set_balance(self, customer_id: int, balance: int) -> None:
        """Top an account up (or down): what a customer does between retries."""
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute(
            "UPDATE account SET balance = ? WHERE customer_id = ?", (balance, customer_id)
        )
        self._conn.execute("COMMIT")

    def charges(self) -> list[dict[str, object]]:
        cursor = self._conn.execute(
            "SELECT idempotency_key, invoice_id, customer_id, amount, currency, outcome, replays "
            "FROM charge ORDER BY invoice_id, idempotency_key, id"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def close(self) -> None:
        self._conn.close()


class MemoryBooks:
    """Books for benchmarks (`ledger=:memory:`): the simulated provider then costs
    next to nothing, so what a benchmark measures is antaeus.

    Accounts are read from the ledger file as they are first charged, and nothing is
    written back. Memory stays flat however many invoices a pass charges: only the
    most recent WINDOW keys and debited accounts are remembered, the way a real
    provider forgets idempotency keys after a retention period. A replay of an older
    key is treated as a new request. That is why this is for benchmarks only.
    """

    label = MEMORY
    WINDOW = 50_000
    READ_AHEAD = 1_000

    def __init__(self, source: SimLedger | None) -> None:
        self._source = source
        self._balances: dict[int, tuple[str, int] | None] = {}
        self._balance_order: deque[int] = deque()
        # key -> (invoice, customer, amount, currency, outcome)
        self._charges: dict[str, tuple[int, int, int, str, str]] = {}
        self._charge_order: deque[str] = deque()
        self._read = (1, 0)  # the id range the last read-ahead covered

    @classmethod
    def copy_of(cls, path: Path) -> MemoryBooks:
        return cls(SimLedger.open(path) if path.is_file() else None)

    def _read_ahead(self, customer_id: int) -> tuple[str, int] | None:
        """Load the accounts from `customer_id` on: passes charge customers in id order,
        so one query serves the next thousand charges."""
        low, high = self._read
        if low <= customer_id <= high or self._source is None:
            return None  # read ahead already, and it was not there: an unknown customer
        found = self._source.accounts_from(customer_id, self.READ_AHEAD)
        balances, order = self._balances, self._balance_order
        for cid, cur, balance in found:
            if cid not in balances:
                balances[cid] = (cur, balance)
                order.append(cid)
        while len(order) > self.WINDOW:
            balances.pop(order.popleft(), None)
        self._read = (customer_id, found[-1][0] if len(found) == self.READ_AHEAD else 2**63)
        return balances.get(customer_id)

    def charge(self, key: str, request: tuple[int, int, int, str], twist: str | None) -> str:
        """Keys are forgotten by count here (WINDOW), not by age."""
        first = self._charges.get(key)
        if first is not None:
            if first[:4] != request:
                raise KeyReused(f"idempotency key {key} was first used for invoice {first[0]}")
            return first[4]
        _, customer_id, amount, currency = request
        balances = self._balances
        account = (
            balances[customer_id] if customer_id in balances else self._read_ahead(customer_id)
        )
        outcome = decide(account, currency, amount, twist)
        if account is not None and moves_money(outcome):
            balances[customer_id] = (account[0], account[1] - amount)
        self._charges[key] = (*request, outcome)
        order = self._charge_order
        order.append(key)
        if len(order) > self.WINDOW:
            del self._charges[order.popleft()]
        return outcome

    def lookup(self, key: str) -> str | None:
        """Only keys still in the window are found, and processing charges settle at
        once: benchmark-only books."""
        first = self._charges.get(key)
        if first is None:
            return None
        return "charged" if first[4] == "processing" else first[4]

    def charges(self) -> list[dict[str, object]]:
        names = ("invoice_id", "customer_id", "amount", "currency", "outcome")
        return [
            {"idempotency_key": key, **dict(zip(names, row, strict=True))}
            for key, row in sorted(self._charges.items())
        ]

    def close(self) -> None:
        self._charges.clear()
        if self._source is not None:
            self._source.close()
