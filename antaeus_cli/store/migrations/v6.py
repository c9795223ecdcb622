"""Version 6: the amount-anomaly guard rail.

- `invoice.failure_code` gains `amount_anomaly`: the invoice is far above what its
  customer usually pays (more than a factor times the median of their PAID invoices),
  so it is held for an operator before the provider hears of it.
- `invoice_paid_by_customer`, a partial index of the PAID invoices by customer,
  currency and amount: the guard counts, in one index range, how many of a
  customer's paid amounts are below the invoice's amount over the factor, without
  reading a table row, however long the customer's history.

CHECK constraints cannot be altered, so `invoice` is rebuilt as versions 4 and 5
did, in one transaction with the version bump; its indexes and triggers are made
again.
"""

from antaeus_cli.store.migrations.v4 import TOTAL_TRIGGERS
from antaeus_cli.store.migrations.v5 import EDIT_TRIGGER

SCRIPT = (
    """
CREATE TABLE invoice_v6 (
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
                        OR failure_code = 'needs_customer' OR failure_code = 'edited_in_flight'
                        OR failure_code = 'already_charged'
                        OR failure_code = 'duplicate_period'
                        OR failure_code = 'amount_anomaly'),
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
INSERT INTO invoice_v6 (id, customer_id, amount, currency, status, due_date, decline_count,
                        first_declined_on, next_retry_on, failure_code, failure_detail,
                        created_at, updated_at, paid_at)
SELECT id, customer_id, amount, currency, status, due_date, decline_count, first_declined_on,
       next_retry_on, failure_code, failure_detail, created_at, updated_at, paid_at
FROM invoice;
DROP TABLE invoice;
ALTER TABLE invoice_v6 RENAME TO invoice;
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
"""
    + TOTAL_TRIGGERS
    + EDIT_TRIGGER
)
