"""Version 1: the first schema."""

SCRIPT = """
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
