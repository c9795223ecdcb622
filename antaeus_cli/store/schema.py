"""The schema, versioned with PRAGMA user_version, and its forward migrations.

Each migration runs in one transaction together with the user_version bump, so a
database is always at exactly one version. Each version's DDL lives in
`antaeus_cli/store/migrations/`. The statuses and outcomes are spelled out there as
CHECK constraints; the domain enums hold the same sets and a test keeps the two
in step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from antaeus_cli.store.migrations import (
    v1,
    v2,
    v3,
    v4,
    v5,
    v6,
    v7,
    v8,
    v9,
    v10,
    v11,
    v12,
    v13,
    v14,
    v15,
    v16,
)

# "ANTA": tells our files apart from any other SQLite file with a user_version.
APPLICATION_ID = 0x414E5441

# Forward migrations; index i takes the schema from version i to version i + 1.
MIGRATIONS: Sequence[str] = tuple(
    version.SCRIPT
    for version in (v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16)
)
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def application_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


Check = Callable[[sqlite3.Connection, int], None]


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS, check: Check | None = None
) -> list[int]:
    """Bring the schema up to date; return the versions applied.

    Each step takes the write lock first and reads the version again inside it,
    so two processes opening an old database at once migrate it only once.
    `check(conn, version)` runs there too, before each step: it raises to refuse the
    step (rolled back), with nothing able to change the database between the two.
    """
    applied: list[int] = []
    if user_version(conn) >= len(migrations):
        return applied
    # Rebuilding a table needs foreign-key enforcement off, and the pragma cannot
    # change inside a transaction. The caller's setting is restored afterwards.
    enforcing = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        _apply(conn, migrations, applied, check)
    finally:
        if enforcing:
            conn.execute("PRAGMA foreign_keys = ON")
    return applied


def _apply(
    conn: sqlite3.Connection, migrations: Sequence[str], applied: list[int], check: Check | None
) -> None:
    while user_version(conn) < len(migrations):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = user_version(conn)
            if check is not None and current < len(migrations):
                check(conn, current)
            if current < len(migrations):
                for statement in statements(migrations[current]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {current + 1:d}")
                if current == 0:
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
                applied.append(current + 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def statements(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies whole.

    `executescript` would COMMIT first and so break the one-transaction rule.
    """
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    statements: list[str] = []
    buffer = ""
    for piece in "\n".join(lines).split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:60]}")
    return statements
