"""The schema, versioned with PRAGMA user_version, and its forward migrations.

Each migration runs in one transaction together with the user_version bump, so a
database is always at exactly one version. The statuses and outcomes are spelled
out here as CHECK constraints; the domain enums hold the same sets and a test
keeps the two in step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

# "ANTA": tells our files apart from any other SQLite file with a user_version.
APPLICATION_ID = 0x414E5441

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE customer (
    id       INTEGER PRIMARY KEY,
    currency TEXT NOT NULL
);

CREATE TABLE invoice (
    id                INTEGER PRIMARY KEY,
    customer_id       INTEGER NOT NULL REFERENCES customer(id),
    amount            INTEGER NOT NULL CHECK (typeof(amount) = 'integer'),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN
                        ('PENDING', 'PROCESSING', 'PAID', 'FAILED',
                         'NEEDS_OPERATOR', 'UNCOLLECTIBLE')),
    due_date          TEXT NOT NULL CHECK (date(due_date, '+0 days') IS due_date),
    attempt_count     INTEGER NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    decline_count     INTEGER NOT NULL DEFAULT 0 CHECK (decline_count >= 0),
    first_declined_on TEXT CHECK (first_declined_on IS NULL
                                  OR date(first_declined_on, '+0 days') IS first_declined_on),
    next_retry_on     TEXT CHECK (next_retry_on IS NULL
                                  OR date(next_retry_on, '+0 days') IS next_retry_on),
    failure_code      TEXT CHECK (failure_code IS NULL OR failure_code IN
                        ('declined', 'dunning_exhausted', 'malformed', 'currency_mismatch',
                         'customer_not_found', 'provider_error')),
    failure_detail    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    paid_at           TEXT,
    -- While PROCESSING an invoice keeps its last failure, so an abandoned attempt can
    -- hand it back exactly as it was.
    CHECK (status <> 'FAILED' OR next_retry_on IS NOT NULL),
    CHECK (next_retry_on IS NULL OR status IN ('FAILED', 'PROCESSING')),
    CHECK (status NOT IN ('FAILED', 'NEEDS_OPERATOR', 'UNCOLLECTIBLE')
           OR failure_code IS NOT NULL),
    CHECK (status NOT IN ('PENDING', 'PAID') OR failure_code IS NULL),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL))
);
CREATE INDEX invoice_by_status ON invoice(status);
CREATE INDEX invoice_by_customer ON invoice(customer_id);

CREATE TABLE billing_run (
    id              INTEGER PRIMARY KEY,
    command         TEXT NOT NULL CHECK (command IN ('bill', 'retry-failed')),
    as_of           TEXT NOT NULL CHECK (date(as_of, '+0 days') IS as_of),
    provider        TEXT NOT NULL,
    host            TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    status          TEXT NOT NULL DEFAULT 'running' CHECK (status IN
                        ('running', 'completed', 'stopped_outage', 'interrupted',
                         'crashed', 'failed')),
    stop_reason     TEXT,
    reconciled      INTEGER NOT NULL DEFAULT 0,
    paid            INTEGER NOT NULL DEFAULT 0,
    declined        INTEGER NOT NULL DEFAULT 0,
    uncollectible   INTEGER NOT NULL DEFAULT 0,
    needs_operator  INTEGER NOT NULL DEFAULT 0,
    unknown         INTEGER NOT NULL DEFAULT 0,
    released        INTEGER NOT NULL DEFAULT 0,
    network_retries INTEGER NOT NULL DEFAULT 0,
    CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE TABLE payment_attempt (
    id                 INTEGER PRIMARY KEY,
    invoice_id         INTEGER NOT NULL REFERENCES invoice(id),
    attempt_no         INTEGER NOT NULL CHECK (attempt_no >= 1),
    idempotency_key    TEXT NOT NULL UNIQUE,
    run_id             INTEGER NOT NULL REFERENCES billing_run(id),
    command            TEXT NOT NULL CHECK (command IN ('bill', 'retry-failed')),
    amount             INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
    currency           TEXT NOT NULL,
    from_status        TEXT NOT NULL CHECK (from_status IN
                        ('PENDING', 'FAILED', 'NEEDS_OPERATOR', 'UNCOLLECTIBLE')),
    outcome            TEXT NOT NULL DEFAULT 'started' CHECK (outcome IN
                        ('started', 'charged', 'declined', 'customer_not_found',
                         'currency_mismatch', 'provider_error', 'unknown', 'abandoned')),
    provider_calls     INTEGER NOT NULL DEFAULT 0 CHECK (provider_calls >= 0),
    error              TEXT,
    started_at         TEXT NOT NULL,
    finished_at        TEXT,
    settled_by_run_id  INTEGER REFERENCES billing_run(id),
    UNIQUE (invoice_id, attempt_no),
    CHECK ((outcome IN ('started', 'unknown')) = (finished_at IS NULL))
);
CREATE INDEX payment_attempt_open ON payment_attempt(id)
    WHERE outcome IN ('started', 'unknown');

-- The ledger is append-only: rows are never deleted, what was requested never
-- changes, and a settled outcome is final.
CREATE TRIGGER payment_attempt_no_delete BEFORE DELETE ON payment_attempt
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only');
END;
CREATE TRIGGER payment_attempt_settled_is_final BEFORE UPDATE ON payment_attempt
WHEN OLD.outcome NOT IN ('started', 'unknown')
  OR NEW.invoice_id IS NOT OLD.invoice_id
  OR NEW.attempt_no IS NOT OLD.attempt_no
  OR NEW.idempotency_key IS NOT OLD.idempotency_key
  OR NEW.run_id IS NOT OLD.run_id
  OR NEW.amount IS NOT OLD.amount
  OR NEW.currency IS NOT OLD.currency
  OR NEW.started_at IS NOT OLD.started_at
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only: a settled attempt never changes');
END;

CREATE TABLE pass_lock (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    run_id       INTEGER NOT NULL REFERENCES billing_run(id),
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    process_tag  TEXT NOT NULL,
    acquired_at  TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
"""

# Forward migrations; index i takes the schema from version i to version i + 1.
MIGRATIONS: Sequence[str] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def application_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> list[int]:
    """Bring the schema up to date; return the versions applied.

    Each step takes the write lock first and reads the version again inside it,
    so two processes opening an old database at once migrate it only once.
    """
    applied: list[int] = []
    while user_version(conn) < len(migrations):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = user_version(conn)
            if current < len(migrations):
                for statement in _statements(migrations[current]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {current + 1:d}")
                if current == 0:
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
                applied.append(current + 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied


def _statements(script: str) -> list[str]:
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
