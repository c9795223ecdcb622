"""Version 12: a bare SQL INSERT of an invoice needs no timestamps.

- `invoice.created_at` and `invoice.updated_at` default to the moment of the INSERT,
  in UTC, written as the code writes its own instants (`datetime.isoformat()` of an
  aware UTC time: `2026-11-28T09:00:00.123000+00:00`; SQLite's clock counts
  milliseconds, so the last three digits are zeros). Both columns of one row get the
  same instant: SQLite reads 'now' once per statement. An upstream system that
  writes invoices by SQL names only the facts it holds (customer, amount, currency,
  due date); one that names the timestamps keeps its own values, as `seed` and
  `antaeus import` do.

`customer` needs no change: every column but `currency` may be NULL. SQLite cannot
alter a column's default, so `invoice` is rebuilt as versions 4 to 6 did, with
foreign-key enforcement off, in one transaction with the version bump: the same
columns in the same order, every CHECK, its foreign key, and its indexes and
triggers made again. Rows keep their ids and values; `invoice_total` is untouched,
since the rows are copied before the total triggers are made again.
"""

from antaeus_cli.store.migrations.v4 import TOTAL_TRIGGERS
from antaeus_cli.store.migrations.v5 import EDIT_TRIGGER

# The instant of the INSERT in the shape `datetime.now(UTC).isoformat()` writes.
NOW_UTC = "strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')"

SCRIPT = (
    f"""
CREATE TABLE invoice_v12 (
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
INSERT INTO invoice_v12 (id, customer_id, amount, currency, status, due_date, decline_count,
                         first_declined_on, next_retry_on, failure_code, failure_detail,
                         created_at, updated_at, paid_at, external_id)
SELECT id, customer_id, amount, currency, status, due_date, decline_count, first_declined_on,
       next_retry_on, failure_code, failure_detail, created_at, updated_at, paid_at,
       external_id
FROM invoice;
DROP TABLE invoice;
ALTER TABLE invoice_v12 RENAME TO invoice;
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
"""
    + TOTAL_TRIGGERS
    + EDIT_TRIGGER
)
