"""What the ledger knows of its own keys, to tell a restored database (one that does
not know charges made under its keys after its backup was taken)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime


def newest_attempt(conn: sqlite3.Connection) -> datetime | None:
    """When the newest attempt of the ledger began (None: it has none)."""
    row = conn.execute("SELECT max(started_at) FROM payment_attempt").fetchone()
    return None if row[0] is None else datetime.fromisoformat(row[0])


def unknown(conn: sqlite3.Connection, keys: Iterable[str]) -> list[str]:
    """The keys of `keys` that no attempt of the ledger was made under, in their order."""
    return [
        key
        for key in keys
        if conn.execute(
            "SELECT 1 FROM payment_attempt WHERE idempotency_key = ?", (key,)
        ).fetchone()
        is None
    ]
