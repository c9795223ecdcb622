"""Version 5: hand edits of an invoice whose charge is in flight.

- `invoice.failure_code` gains `edited_in_flight`: the invoice's amount, currency,
  customer or id was changed while an attempt under it was open, so the charge the
  provider may have made no longer matches the row. It waits for an operator.
- ... and `already_charged`: its latest attempt charged it, yet it is due again (set
  back to PENDING or FAILED by hand). It is never charged twice.
- ... and `duplicate_period`, a guard rail: another invoice bills the same customer
  for the same month. `invoice_by_customer` gains `due_date`, so one probe finds it.
- The trigger `invoice_edited_in_flight` does that at the moment of the edit: it
  keeps the edit (the row says what its writer said) but moves the invoice to
  NEEDS_OPERATOR with both figures, so no later pass charges the new figures under
  a new key while the old charge may have succeeded. Passes never update these
  columns, so the trigger costs a pass nothing.
- The trigger `payment_attempt_closed_by_a_pass`: an open attempt is closed by a
  pass holding the lock, or by hand only with `error` saying 'settled by hand: ...'.
  Closed by hand otherwise, it could let a pass charge again under a new key.
- `charge_without_invoice`: the charges whose invoice was deleted while they were
  in flight, written when their answer is recorded. `report` lists them. (A partial
  index over the ledger would have found them too, at 3% of every pass's time.)
- `billing_run`: two more ways for a run to end early, `stopped_cap` (a `--max-total`
  would have been passed) and `stopped_breaker` (the decline-rate breaker tripped).

CHECK constraints cannot be altered, so `invoice` and `billing_run` are rebuilt as
version 4 did, in one transaction with the version bump; the indexes and triggers of
`invoice` are made again.
"""

from antaeus_cli.store.migrations.v4 import TOTAL_TRIGGERS

EDIT_TRIGGER = """
CREATE TRIGGER invoice_edited_in_flight AFTER UPDATE OF id, amount, currency, customer_id
ON invoice
WHEN (NEW.id IS NOT OLD.id OR NEW.amount IS NOT OLD.amount OR NEW.currency IS NOT OLD.currency
      OR NEW.customer_id IS NOT OLD.customer_id)
     AND EXISTS (SELECT 1 FROM payment_attempt a
                 WHERE a.invoice_id = OLD.id AND a.finished_at IS NULL)
BEGIN
    UPDATE invoice SET status = 'NEEDS_OPERATOR', failure_code = 'edited_in_flight',
        failure_detail = 'edited while a charge was in flight: it was invoice ' || OLD.id
            || ', ' || quote(OLD.amount) || ' ' || quote(OLD.currency) || ' for customer '
            || quote(OLD.customer_id) || '; it is now invoice ' || NEW.id || ', '
            || quote(NEW.amount) || ' ' || quote(NEW.currency) || ' for customer '
            || quote(NEW.customer_id) || '; the ledger says what was charged',
        next_retry_on = NULL, paid_at = NULL,
        updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;
"""

# Closing an open attempt says whether money moved under its key. A pass does it, under
# the lock, after asking the provider; by hand it is refused unless the writer says so
# in `error` ('settled by hand: ...'), having checked the provider's own records.
CLOSE_TRIGGER = """
CREATE TRIGGER payment_attempt_closed_by_a_pass BEFORE UPDATE OF finished_at
ON payment_attempt
WHEN OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pass_lock WHERE run_id IS NEW.settled_by_run_id)
     AND NOT (NEW.settled_by_run_id IS NULL AND coalesce(NEW.error, '') LIKE 'settled by hand:%')
BEGIN
    SELECT RAISE(ABORT, 'open attempt: a pass settles it, or error = ''settled by hand: ...''');
END;
"""

SCRIPT = (
    """
CREATE TABLE invoice_v5 (
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
                        OR failure_code = 'duplicate_period'),
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
INSERT INTO invoice_v5 (id, customer_id, amount, currency, status, due_date, decline_count,
                        first_declined_on, next_retry_on, failure_code, failure_detail,
                        created_at, updated_at, paid_at)
SELECT id, customer_id, amount, currency, status, due_date, decline_count, first_declined_on,
       next_retry_on, failure_code, failure_detail, created_at, updated_at, paid_at
FROM invoice;
DROP TABLE invoice;
ALTER TABLE invoice_v5 RENAME TO invoice;
CREATE INDEX invoice_pending ON invoice(id, currency, amount) WHERE status = 'PENDING';
CREATE INDEX invoice_failed ON invoice(id, currency, amount) WHERE status = 'FAILED';
CREATE INDEX invoice_processing ON invoice(id, currency, amount) WHERE status = 'PROCESSING';
CREATE INDEX invoice_operator ON invoice(id, currency, amount) WHERE status = 'NEEDS_OPERATOR';
CREATE INDEX invoice_uncollectible ON invoice(id, currency, amount)
    WHERE status = 'UNCOLLECTIBLE';
CREATE INDEX invoice_awaiting ON invoice(id, currency, amount)
    WHERE status = 'AWAITING_CUSTOMER';
CREATE INDEX invoice_by_customer ON invoice(customer_id, due_date);

CREATE TABLE billing_run_v5 (
    id                INTEGER PRIMARY KEY,
    command           TEXT NOT NULL CHECK (command = 'bill' OR command = 'retry-failed'),
    as_of             TEXT NOT NULL CHECK (date(as_of, '+0 days') IS as_of),
    provider          TEXT NOT NULL,
    host              TEXT NOT NULL,
    pid               INTEGER NOT NULL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    status            TEXT NOT NULL DEFAULT 'running' CHECK (
                        status = 'running' OR status = 'completed'
                        OR status = 'stopped_outage' OR status = 'stopped_cap'
                        OR status = 'stopped_breaker' OR status = 'interrupted'
                        OR status = 'crashed' OR status = 'failed'),
    stop_reason       TEXT,
    reconciled        INTEGER NOT NULL DEFAULT 0,
    paid              INTEGER NOT NULL DEFAULT 0,
    declined          INTEGER NOT NULL DEFAULT 0,
    uncollectible     INTEGER NOT NULL DEFAULT 0,
    needs_operator    INTEGER NOT NULL DEFAULT 0,
    unknown           INTEGER NOT NULL DEFAULT 0,
    released          INTEGER NOT NULL DEFAULT 0,
    network_retries   INTEGER NOT NULL DEFAULT 0,
    awaiting_customer INTEGER NOT NULL DEFAULT 0,
    not_processed     INTEGER NOT NULL DEFAULT 0,
    CHECK ((status = 'running') = (finished_at IS NULL))
);
INSERT INTO billing_run_v5 (id, command, as_of, provider, host, pid, started_at, finished_at,
                            status, stop_reason, reconciled, paid, declined, uncollectible,
                            needs_operator, unknown, released, network_retries,
                            awaiting_customer, not_processed)
SELECT id, command, as_of, provider, host, pid, started_at, finished_at, status, stop_reason,
       reconciled, paid, declined, uncollectible, needs_operator, unknown, released,
       network_retries, awaiting_customer, not_processed
FROM billing_run;
DROP TABLE billing_run;
ALTER TABLE billing_run_v5 RENAME TO billing_run;
CREATE TABLE charge_without_invoice (
    attempt_id INTEGER PRIMARY KEY REFERENCES payment_attempt(id),
    noted_at   TEXT NOT NULL
);
"""
    + TOTAL_TRIGGERS
    + EDIT_TRIGGER
    + CLOSE_TRIGGER
)
