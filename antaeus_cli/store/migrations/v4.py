"""Version 4: what a real payment provider says.

- `customer.provider_ref`: the provider's id for the customer (Stripe: `cus_...`),
  written by fixtures and by upstream systems. A charge is sent for it.
- `invoice`: a new status, AWAITING_CUSTOMER, for hard declines and cards that
  need their holder, with the failure codes `hard_decline` and `needs_customer`.
- `payment_attempt`: the customer reference the request was sent with; the
  provider's reference for the charge (Stripe: `pi_...`); its decline code and our
  class of it; and the outcomes `declined_hard`, `needs_customer`, `processing`
  (open: looked up until it settles), `not_processed` (rate limited on every try)
  and `lapsed` (not found once the key's retention had passed).
- `billing_run`: counts of the two new kinds of ending.
- `invoice_total`: rebuilt from the rows, with a flag saying whether each total is
  exact, kept by new triggers.

CHECK constraints cannot be altered, so `invoice` and `payment_attempt` are rebuilt
as version 2 did, with foreign-key enforcement off, in one transaction with the
version bump; their indexes and triggers are made again.
"""

# Version 3's triggers let a total that overflowed 64 bits become a REAL, and a REAL
# that came back to a whole number is stored as an INTEGER again (the column's
# affinity), so the report read a wrong total as exact. These keep a flag instead:
# once a total is not exact, the report counts that currency row by row.
TOTAL_TRIGGERS = """
CREATE TRIGGER invoice_total_insert AFTER INSERT ON invoice
BEGIN
    INSERT INTO invoice_total VALUES (NEW.currency, 1, NEW.amount, 1)
    ON CONFLICT (currency) DO UPDATE SET count = count + 1, amount = amount + excluded.amount,
        exact = exact AND typeof(amount + excluded.amount) = 'integer';
END;
CREATE TRIGGER invoice_total_delete AFTER DELETE ON invoice
BEGIN
    UPDATE invoice_total SET count = count - 1, amount = amount - OLD.amount,
        exact = exact AND typeof(amount - OLD.amount) = 'integer'
    WHERE currency = OLD.currency;
END;
CREATE TRIGGER invoice_total_update AFTER UPDATE OF amount, currency ON invoice
BEGIN
    UPDATE invoice_total SET count = count - 1, amount = amount - OLD.amount,
        exact = exact AND typeof(amount - OLD.amount) = 'integer'
    WHERE currency = OLD.currency;
    INSERT INTO invoice_total VALUES (NEW.currency, 1, NEW.amount, 1)
    ON CONFLICT (currency) DO UPDATE SET count = count + 1, amount = amount + excluded.amount,
        exact = exact AND typeof(amount + excluded.amount) = 'integer';
END;
"""
TOTAL_TRIGGER_NAMES = ("invoice_total_insert", "invoice_total_delete", "invoice_total_update")

SCRIPT = (
    """
ALTER TABLE customer ADD COLUMN provider_ref TEXT;

CREATE TABLE invoice_v4 (
    id                INTEGER PRIMARY KEY,
    customer_id       INTEGER NOT NULL REFERENCES customer(id),
    amount            INTEGER NOT NULL CHECK (typeof(amount) = 'integer'),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'PENDING' CHECK (
                        status = 'PENDING' OR status = 'PROCESSING' OR status = 'PAID'
                        OR status = 'FAILED' OR status = 'NEEDS_OPERATOR'
                        OR status = 'UNCOLLECTIBLE' OR status = 'AWAITING_CUSTOMER'),
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
                        OR failure_code = 'provider_error' OR failure_code = 'hard_decline'
                        OR failure_code = 'needs_customer'),
    failure_detail    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    paid_at           TEXT,
    CHECK (status <> 'FAILED' OR next_retry_on IS NOT NULL),
    CHECK (next_retry_on IS NULL OR status = 'FAILED' OR status = 'PROCESSING'),
    CHECK (failure_code IS NOT NULL OR (status <> 'FAILED' AND status <> 'NEEDS_OPERATOR'
                                        AND status <> 'UNCOLLECTIBLE'
                                        AND status <> 'AWAITING_CUSTOMER')),
    CHECK (failure_code IS NULL OR (status <> 'PENDING' AND status <> 'PAID')),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL))
);
INSERT INTO invoice_v4 (id, customer_id, amount, currency, status, due_date, decline_count,
                        first_declined_on, next_retry_on, failure_code, failure_detail,
                        created_at, updated_at, paid_at)
SELECT id, customer_id, amount, currency, status, due_date, decline_count, first_declined_on,
       next_retry_on, failure_code, failure_detail, created_at, updated_at, paid_at
FROM invoice;
DROP TABLE invoice;
ALTER TABLE invoice_v4 RENAME TO invoice;
CREATE INDEX invoice_pending ON invoice(id, currency, amount) WHERE status = 'PENDING';
CREATE INDEX invoice_failed ON invoice(id, currency, amount) WHERE status = 'FAILED';
CREATE INDEX invoice_processing ON invoice(id, currency, amount) WHERE status = 'PROCESSING';
CREATE INDEX invoice_operator ON invoice(id, currency, amount) WHERE status = 'NEEDS_OPERATOR';
CREATE INDEX invoice_uncollectible ON invoice(id, currency, amount)
    WHERE status = 'UNCOLLECTIBLE';
CREATE INDEX invoice_awaiting ON invoice(id, currency, amount)
    WHERE status = 'AWAITING_CUSTOMER';
CREATE INDEX invoice_by_customer ON invoice(customer_id);

CREATE TABLE payment_attempt_v4 (
    id                 INTEGER PRIMARY KEY,
    invoice_id         INTEGER NOT NULL REFERENCES invoice(id),
    customer_id        INTEGER NOT NULL,
    customer_ref       TEXT,
    attempt_no         INTEGER NOT NULL CHECK (attempt_no >= 1),
    idempotency_key    TEXT NOT NULL UNIQUE,
    run_id             INTEGER NOT NULL REFERENCES billing_run(id),
    command            TEXT NOT NULL CHECK (command = 'bill' OR command = 'retry-failed'),
    amount             INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
    currency           TEXT NOT NULL,
    from_status        TEXT NOT NULL CHECK (
                         from_status = 'PENDING' OR from_status = 'FAILED'
                         OR from_status = 'NEEDS_OPERATOR' OR from_status = 'UNCOLLECTIBLE'
                         OR from_status = 'AWAITING_CUSTOMER'),
    outcome            TEXT NOT NULL DEFAULT 'started' CHECK (
                         outcome = 'started' OR outcome = 'charged' OR outcome = 'declined'
                         OR outcome = 'declined_hard' OR outcome = 'needs_customer'
                         OR outcome = 'processing'
                         OR outcome = 'customer_not_found' OR outcome = 'currency_mismatch'
                         OR outcome = 'provider_error' OR outcome = 'unknown'
                         OR outcome = 'abandoned' OR outcome = 'not_processed'
                         OR outcome = 'lapsed'),
    provider_calls     INTEGER NOT NULL DEFAULT 0 CHECK (provider_calls >= 0),
    error              TEXT,
    provider_ref       TEXT,
    decline_code       TEXT,
    decline_class      TEXT CHECK (decline_class IS NULL OR decline_class = 'soft'
                         OR decline_class = 'soft_unknown' OR decline_class = 'hard'
                         OR decline_class = 'needs_customer'),
    started_at         TEXT NOT NULL,
    finished_at        TEXT,
    settled_by_run_id  INTEGER REFERENCES billing_run(id),
    UNIQUE (invoice_id, attempt_no),
    -- Open (its outcome may yet move money) exactly while finished_at is empty.
    CHECK ((outcome = 'started' OR outcome = 'unknown' OR outcome = 'processing')
           = (finished_at IS NULL))
);
INSERT INTO payment_attempt_v4 (id, invoice_id, customer_id, attempt_no, idempotency_key, run_id,
                                command, amount, currency, from_status, outcome, provider_calls,
                                error, started_at, finished_at, settled_by_run_id)
SELECT id, invoice_id, customer_id, attempt_no, idempotency_key, run_id, command, amount,
       currency, from_status, outcome, provider_calls, error, started_at, finished_at,
       settled_by_run_id
FROM payment_attempt;
DROP TABLE payment_attempt;
ALTER TABLE payment_attempt_v4 RENAME TO payment_attempt;
CREATE INDEX payment_attempt_open ON payment_attempt(id) WHERE finished_at IS NULL;
-- `report` counts declines by code without reading the ledger's paid rows.
CREATE INDEX payment_attempt_declines ON payment_attempt(decline_code, decline_class)
    WHERE decline_code IS NOT NULL;

CREATE TRIGGER payment_attempt_no_delete BEFORE DELETE ON payment_attempt
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only');
END;
CREATE TRIGGER payment_attempt_settled_is_final BEFORE UPDATE OF
    outcome, finished_at, provider_ref, decline_code, decline_class ON payment_attempt
    WHEN OLD.finished_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only: a settled attempt never changes');
END;
CREATE TRIGGER payment_attempt_request_is_final BEFORE UPDATE OF
    id, invoice_id, customer_id, customer_ref, attempt_no, idempotency_key, run_id, command,
    amount, currency, from_status, started_at ON payment_attempt
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only: what was requested never changes');
END;

-- Totals again from the rows, each with whether it is exact (see TOTAL_TRIGGERS).
DROP TABLE invoice_total;
CREATE TABLE invoice_total (
    currency TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    amount   INTEGER NOT NULL,
    exact    INTEGER NOT NULL DEFAULT 1 CHECK (exact = 0 OR exact = 1)
) WITHOUT ROWID;
INSERT INTO invoice_total
SELECT currency, n, total, typeof(total) = 'integer'
FROM (SELECT currency, count(*) AS n,
             sum(amount >> 32) * 4294967296 + sum(amount & 4294967295) AS total
      FROM invoice GROUP BY currency);

ALTER TABLE billing_run ADD COLUMN awaiting_customer INTEGER NOT NULL DEFAULT 0;
ALTER TABLE billing_run ADD COLUMN not_processed INTEGER NOT NULL DEFAULT 0;
"""
    + TOTAL_TRIGGERS
)
