"""Version 2: the same tables and rules, cheaper to write.

Version 1 spelled its CHECK constraints with `IN (...)` lists. SQLite evaluates
such a list by building a small temporary table, for every row written: about
2 microseconds each time, several times per invoice. Version 2 rebuilds `invoice`
and `payment_attempt` with the same rules as `=`/`OR` chains, and replaces the
status index with partial indexes that only hold what a pass looks for.

It also drops `invoice.attempt_count`: the ledger's highest attempt number for an
invoice already says which key comes next, and one source of truth cannot drift. And
it records the customer on each attempt, so a replay resends exactly the request the
key was first sent with, even if the invoice was edited since.

SQLite cannot alter a CHECK constraint, so each table is rebuilt: created under a
new name, filled, the old one dropped, the new one renamed. The runner applies
this with foreign-key enforcement off, as SQLite's documentation requires, inside
one transaction with the version bump.
"""

SCRIPT = """
CREATE TABLE invoice_v2 (
    id                INTEGER PRIMARY KEY,
    customer_id       INTEGER NOT NULL REFERENCES customer(id),
    amount            INTEGER NOT NULL CHECK (typeof(amount) = 'integer'),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'PENDING' CHECK (
                        status = 'PENDING' OR status = 'PROCESSING' OR status = 'PAID'
                        OR status = 'FAILED' OR status = 'NEEDS_OPERATOR'
                        OR status = 'UNCOLLECTIBLE'),
    due_date          TEXT NOT NULL CHECK (date(due_date, '+0 days') IS due_date),
    decline_count     INTEGER NOT NULL DEFAULT 0 CHECK (decline_count >= 0),
    first_declined_on TEXT CHECK (first_declined_on IS NULL
                                  OR date(first_declined_on, '+0 days') IS first_declined_on),
    next_retry_on     TEXT CHECK (next_retry_on IS NULL
                                  OR date(next_retry_on, '+0 days') IS next_retry_on),
    failure_code      TEXT CHECK (failure_code IS NULL
                        OR failure_code = 'declined' OR failure_code = 'dunning_exhausted'
                        OR failure_code = 'malformed' OR failure_code = 'currency_mismatch'
                        OR failure_code = 'customer_not_found'
                        OR failure_code = 'provider_error'),
    failure_detail    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    paid_at           TEXT,
    -- While PROCESSING an invoice keeps its last failure, so an abandoned attempt can
    -- hand it back exactly as it was.
    CHECK (status <> 'FAILED' OR next_retry_on IS NOT NULL),
    CHECK (next_retry_on IS NULL OR status = 'FAILED' OR status = 'PROCESSING'),
    CHECK (failure_code IS NOT NULL OR (status <> 'FAILED' AND status <> 'NEEDS_OPERATOR'
                                        AND status <> 'UNCOLLECTIBLE')),
    CHECK (failure_code IS NULL OR (status <> 'PENDING' AND status <> 'PAID')),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL))
);
-- attempt_count is gone: the ledger's highest attempt number decides the next key.
INSERT INTO invoice_v2 (id, customer_id, amount, currency, status, due_date, decline_count,
                        first_declined_on, next_retry_on, failure_code, failure_detail,
                        created_at, updated_at, paid_at)
SELECT id, customer_id, amount, currency, status, due_date, decline_count, first_declined_on,
       next_retry_on, failure_code, failure_detail, created_at, updated_at, paid_at
FROM invoice;
DROP TABLE invoice;
ALTER TABLE invoice_v2 RENAME TO invoice;
-- Partial indexes: a pass looks only for PENDING (bill) or FAILED (retry-failed)
-- invoices, and an invoice leaves these indexes once, when it stops being due.
CREATE INDEX invoice_pending ON invoice(id) WHERE status = 'PENDING';
CREATE INDEX invoice_failed ON invoice(id) WHERE status = 'FAILED';
CREATE INDEX invoice_by_customer ON invoice(customer_id);

CREATE TABLE payment_attempt_v2 (
    id                 INTEGER PRIMARY KEY,
    invoice_id         INTEGER NOT NULL REFERENCES invoice(id),
    customer_id        INTEGER NOT NULL,
    attempt_no         INTEGER NOT NULL CHECK (attempt_no >= 1),
    idempotency_key    TEXT NOT NULL UNIQUE,
    run_id             INTEGER NOT NULL REFERENCES billing_run(id),
    command            TEXT NOT NULL CHECK (command = 'bill' OR command = 'retry-failed'),
    amount             INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
    currency           TEXT NOT NULL,
    from_status        TEXT NOT NULL CHECK (
                         from_status = 'PENDING' OR from_status = 'FAILED'
                         OR from_status = 'NEEDS_OPERATOR' OR from_status = 'UNCOLLECTIBLE'),
    outcome            TEXT NOT NULL DEFAULT 'started' CHECK (
                         outcome = 'started' OR outcome = 'charged' OR outcome = 'declined'
                         OR outcome = 'customer_not_found' OR outcome = 'currency_mismatch'
                         OR outcome = 'provider_error' OR outcome = 'unknown'
                         OR outcome = 'abandoned'),
    provider_calls     INTEGER NOT NULL DEFAULT 0 CHECK (provider_calls >= 0),
    error              TEXT,
    started_at         TEXT NOT NULL,
    finished_at        TEXT,
    settled_by_run_id  INTEGER REFERENCES billing_run(id),
    UNIQUE (invoice_id, attempt_no),
    -- Open (its outcome may yet move money) exactly while finished_at is empty.
    CHECK ((outcome = 'started' OR outcome = 'unknown') = (finished_at IS NULL))
);
-- The customer charged is part of the request, like the amount: a replay sends it again.
INSERT INTO payment_attempt_v2 (id, invoice_id, customer_id, attempt_no, idempotency_key, run_id,
                                command, amount, currency, from_status, outcome, provider_calls,
                                error, started_at, finished_at, settled_by_run_id)
SELECT a.id, a.invoice_id, (SELECT i.customer_id FROM invoice i WHERE i.id = a.invoice_id),
       a.attempt_no, a.idempotency_key, a.run_id, a.command, a.amount, a.currency, a.from_status,
       a.outcome, a.provider_calls, a.error, a.started_at, a.finished_at, a.settled_by_run_id
FROM payment_attempt a;
DROP TABLE payment_attempt;
ALTER TABLE payment_attempt_v2 RENAME TO payment_attempt;
CREATE INDEX payment_attempt_open ON payment_attempt(id) WHERE finished_at IS NULL;

-- The ledger is append-only: rows are never deleted, what was requested never
-- changes, and a settled outcome is final.
CREATE TRIGGER payment_attempt_no_delete BEFORE DELETE ON payment_attempt
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only');
END;
CREATE TRIGGER payment_attempt_settled_is_final BEFORE UPDATE OF outcome, finished_at
ON payment_attempt WHEN OLD.finished_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only: a settled attempt never changes');
END;
-- "UPDATE OF" triggers fire only when a statement sets one of those columns: the
-- request columns are never set, so guarding them costs nothing on the hot path.
CREATE TRIGGER payment_attempt_request_is_final BEFORE UPDATE OF
    id, invoice_id, customer_id, attempt_no, idempotency_key, run_id, command, amount,
    currency, from_status, started_at ON payment_attempt
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only: what was requested never changes');
END;
"""
