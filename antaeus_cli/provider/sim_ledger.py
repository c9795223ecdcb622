"""The simulated provider's own books: accounts and charges, in their own SQLite file.

It is "another system": this tool's database never points into it, and the
simulated provider is the only writer. Charges are keyed by idempotency key, so a
replayed key returns the first answer and never moves money twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from antaeus_cli.errors import NotAnAntaeusDatabase, ProviderSpecError
from antaeus_cli.sqlite_files import connect, set_wal, translate_errors

SIM_APPLICATION_ID = 0x4153494D  # "ASIM"
MEMORY = ":memory:"

_SCHEMA = (
    """CREATE TABLE account (
        customer_id INTEGER PRIMARY KEY,
        currency    TEXT NOT NULL,
        balance     INTEGER NOT NULL CHECK (typeof(balance) = 'integer' AND balance >= 0)
    )""",
    """CREATE TABLE charge (
        idempotency_key TEXT PRIMARY KEY,
        invoice_id      INTEGER NOT NULL,
        customer_id     INTEGER NOT NULL,
        amount          INTEGER NOT NULL,
        currency        TEXT NOT NULL,
        outcome         TEXT NOT NULL CHECK (outcome IN
                          ('charged', 'declined', 'customer_not_found', 'currency_mismatch')),
        created_at      TEXT NOT NULL,
        replays         INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
)


class KeyReused(Exception):
    """An idempotency key came back with different request parameters."""


@dataclass(frozen=True, slots=True)
class Account:
    customer_id: int
    currency: str
    balance: int


def default_ledger_path(db_path: Path) -> Path:
    """Where the simulated provider keeps its books unless told otherwise."""
    return db_path.with_name(f"{db_path.stem}.provider{db_path.suffix or '.db'}")


class SimLedger:
    """Accounts and charges of the simulated provider. Not thread-safe: the provider
    serialises calls into it."""

    def __init__(self, conn: sqlite3.Connection, label: str) -> None:
        self._conn = conn
        self.label = label

    @classmethod
    def create(cls, path: Path, accounts: Iterable[Account]) -> SimLedger:
        conn = connect(path, create=True)
        set_wal(conn, path)
        ledger = cls(conn, str(path))
        with translate_errors(path):
            ledger._init_schema(accounts)
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
        return cls(conn, str(path))

    @classmethod
    def in_memory(cls, copy_of: Path | None) -> SimLedger:
        """A ledger in memory, starting as a copy of `copy_of` if that file exists."""
        conn = sqlite3.connect(MEMORY, isolation_level=None, check_same_thread=False)
        if copy_of is not None and copy_of.is_file():
            source = SimLedger.open(copy_of)
            with translate_errors(copy_of):
                source._conn.backup(conn)
            source.close()
            return cls(conn, MEMORY)
        ledger = cls(conn, MEMORY)
        ledger._init_schema(())
        return ledger

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
        conn.execute("PRAGMA user_version = 1")
        conn.execute("COMMIT")

    def charge(
        self,
        *,
        key: str,
        invoice_id: int,
        customer_id: int,
        amount: int,
        currency: str,
        now: datetime,
    ) -> str:
        """Charge once per key; a replay returns the recorded outcome."""
        conn = self._conn
        request = (invoice_id, customer_id, amount, currency)
        conn.execute("BEGIN IMMEDIATE")
        try:
            first = conn.execute(
                "SELECT invoice_id, customer_id, amount, currency, outcome FROM charge "
                "WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
            if first is not None:
                if tuple(first[:4]) != request:
                    raise KeyReused(  # noqa: TRY301 - raised inside to roll the transaction back
                        f"idempotency key {key} was first used for invoice {first[0]} "
                        f"({first[2]} {first[3]}), not for invoice {invoice_id}"
                    )
                conn.execute(
                    "UPDATE charge SET replays = replays + 1 WHERE idempotency_key = ?", (key,)
                )
                outcome = str(first[4])
            else:
                outcome = self._first_charge(request, key, now)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcome

    def _first_charge(self, request: tuple[int, int, int, str], key: str, now: datetime) -> str:
        invoice_id, customer_id, amount, currency = request
        account = self._conn.execute(
            "SELECT currency, balance FROM account WHERE customer_id = ?", (customer_id,)
        ).fetchone()
        if account is None:
            outcome = "customer_not_found"
        elif account[0] != currency:
            outcome = "currency_mismatch"
        elif account[1] < amount:
            outcome = "declined"
        else:
            outcome = "charged"
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
            "FROM charge ORDER BY invoice_id, idempotency_key"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def close(self) -> None:
        self._conn.close()
