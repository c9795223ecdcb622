"""Version 13: an invoice an operator voids.

- `invoice.status` gains `VOID`: an operator said, with `antaeus void`, that the
  invoice must never be charged (a wrong amount corrected upstream under a new
  invoice, a twin of a month already billed, a currency the customer does not pay
  in). No path charges it again; `check` and `report` no longer count it as held.
  Only an invoice that was never charged and has no charge open or in doubt is
  voided: the ledger says what was charged.
- `invoice_void`, a covering partial index of the VOID invoices, as each other status
  but PAID has: `report` sums and lists them from it, and reads PAID as what the
  others leave of `invoice_total`.
- `voiding`: one row per invoice voided, written in the transaction that voids it:
  who (`voided_by`, the login; `host` and `pid`), when (`voided_at`, UTC), why
  (`reason`, the operator's words), and what the invoice was before (`from_status`,
  `failure_code`, `failure_detail`, which the invoice row no longer keeps).
  Append-only, as the ledger is: a trigger refuses updates and deletes.

CHECK constraints cannot be altered, so `invoice` is rebuilt as versions 4 to 6 and 12
did, with foreign-key enforcement off, in one transaction with the version bump: the
same columns in the same order, with the same defaults, every CHECK (the status's with
one value more), its foreign key, and its indexes and triggers made again. Rows keep
their ids and values; `invoice_total` is untouched, since the rows are copied before
the total triggers are made again.
"""

from antaeus_cli.store.migrations.v4 import TOTAL_TRIGGERS
from antaeus_cli.store.migrations.v5 import EDIT_TRIGGER
from antaeus_cli.store.migrations.v12 import NOW_UTC

SCRIPT = (
    f"""
CREATE TABLE invoice_v13 (
    id                INTEGER PRIMARY KEY,
    customer_id       INTEGER NOT NULL REFERENCES customer(id),
    amount            INTEGER NOT NULL CHECK (typeof(amount) = 'integer'),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'PENDING' CHECK (
                        status = 'PENDING' OR status = 'PROCESSING' OR status = 'PAID'
                        OR status = 'FAILED' OR status = 'NEEDS_OPERATOR'
                        OR status = 'UNCOLLECTIBLE' OR status = 'AWAITING_CUSTOMER'
                        OR status = 'VOID'),
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
                        OR failure_code = 'needs_customer' OR failure_code = 'edited_in_flight'
                        OR failure_code = 'already_charged'
                        OR failure_code = 'duplicate_period'
                        OR failure_code = 'amount_anomaly'),
    failure_detail    TEXT,
    created_at        TEXT NOT NULL DEFAULT ({NOW_UTC}),
    updated_at        TEXT NOT NULL DEFAULT ({NOW_UTC}),
    paid_at           TEXT,
    external_id       TEXT CHECK (external_id IS NULL OR (typeof(external_id) = 'text'
                                  AND length(external_id) BETWEEN 1 AND 200)),
    CHECK (status <> 'FAILED' OR next_retry_on IS NOT NULL),
    CHECK (next_retry_on IS NULL OR status = 'FAILED' OR status = 'PROCESSING'),
    CHECK (failure_code IS NOT NULL OR (status <> 'FAILED' AND status <> 'NEEDS_OPERATOR'
                                        AND status <> 'UNCOLLECTIBLE'
                                        AND status <> 'AWAITING_CUSTOMER')),
    CHECK (failure_code IS NULL OR (status <> 'PENDING' AND status <> 'PAID')),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL))
);
INSERT INTO invoice_v13 (id, customer_id, amount, currency, status, due_date, decline_count,
                         first_declined_on, next_retry_on, failure_code, failure_detail,
                         created_at, updated_at, paid_at, external_id)
SELECT id, customer_id, amount, currency, status, due_date, decline_count, first_declined_on,
       next_retry_on, failure_code, failure_detail, created_at, updated_at, paid_at,
       external_id
FROM invoice;
DROP TABLE invoice;
ALTER TABLE invoice_v13 RENAME TO invoice;
CREATE INDEX invoice_pending ON invoice(id, currency, amount) WHERE status = 'PENDING';
CREATE INDEX invoice_failed ON invoice(id, currency, amount) WHERE status = 'FAILED';
CREATE INDEX invoice_processing ON invoice(id, currency, amount) WHERE status = 'PROCESSING';
CREATE INDEX invoice_operator ON invoice(id, currency, amount) WHERE status = 'NEEDS_OPERATOR';
CREATE INDEX invoice_uncollectible ON invoice(id, currency, amount)
    WHERE status = 'UNCOLLECTIBLE';
CREATE INDEX invoice_awaiting ON invoice(id, currency, amount)
    WHERE status = 'AWAITING_CUSTOMER';
CREATE INDEX invoice_by_customer ON invoice(customer_id, due_date);
CREATE INDEX invoice_paid_by_customer ON invoice(customer_id, currency, amount)
    WHERE status = 'PAID';
CREATE UNIQUE INDEX invoice_by_external_id ON invoice(external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX invoice_void ON invoice(id, currency, amount) WHERE status = 'VOID';

CREATE TABLE voiding (
    id             INTEGER PRIMARY KEY,
    invoice_id     INTEGER NOT NULL REFERENCES invoice(id),
    from_status    TEXT NOT NULL CHECK (
                     from_status = 'PENDING' OR from_status = 'FAILED'
                     OR from_status = 'NEEDS_OPERATOR' OR from_status = 'UNCOLLECTIBLE'
                     OR from_status = 'AWAITING_CUSTOMER'),
    failure_code   TEXT,
    failure_detail TEXT,
    reason         TEXT NOT NULL CHECK (typeof(reason) = 'text'
                                        AND length(reason) BETWEEN 1 AND 500),
    voided_at      TEXT NOT NULL CHECK (julianday(voided_at) IS NOT NULL),
    voided_by      TEXT NOT NULL,
    host           TEXT NOT NULL,
    pid            INTEGER NOT NULL
);
CREATE INDEX voiding_by_invoice ON voiding(invoice_id, id);
CREATE TRIGGER voiding_no_delete BEFORE DELETE ON voiding
BEGIN
    SELECT RAISE(ABORT, 'voiding is append-only');
END;
CREATE TRIGGER voiding_is_final BEFORE UPDATE ON voiding
BEGIN
    SELECT RAISE(ABORT, 'voiding is append-only: a voiding never changes');
END;
"""
    + TOTAL_TRIGGERS
    + EDIT_TRIGGER
)
