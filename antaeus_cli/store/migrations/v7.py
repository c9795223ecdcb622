"""Version 7: telling the customer, through an outbox.

- `customer.email`: where the customer's notices go. Written by `seed`, by fixtures
  and by upstream systems; NULL when the customer has none (they get no e-mail, and
  `report` counts them). Any text is accepted here: `notify` checks the address
  before it sends, and fails that one notice with the reason.
- `notification`: the outbox. A row is written in the same transaction as the
  outcome that causes it (`store.outbox`), so a notice is never sent for an outcome
  that was rolled back and never lost for one that was committed. `notify` delivers
  the pending rows whose run has ended.
  - `dedupe_key`: the notice's identity on every delivery (the e-mail's Message-ID,
    the webhook's event id), derived from the attempt's key and the kind, or from
    the run.
  - `attempt_id`: the attempt whose answer caused it, NULL for a run summary. The
    amount, currency, customer and reference are read from that append-only row
    when the notice is rendered: the ledger says what was charged.
  - `recipient`: the customer's address when the outcome was recorded.
  - `next_attempt_at`: when `notify` may take it next. Claiming a row moves it to
    the end of the claim's lease, so a crashed `notify` leaves it due again once
    the lease has run out, and overlapping runs never take the same row.
  - `status`: `pending` until delivered (`sent`); `failed` with the reason when the
    receiver refused it for good or its tries ran out; `skipped` when the channel
    had no address for it (a customer without e-mail); `withdrawn` when its cause
    was undone before it went out (declines the breaker handed back).
  - `tries`, `last_error`, `sent_at`: its delivery so far.
- `notification_due`: the pending rows in the order they fall due; `notify`
  streams them from it, and `report` counts them from it.
- `notification_undelivered`: the rows that will not go (failed, skipped,
  withdrawn), few by nature: `report` counts and lists them without reading the
  sent ones, however many there are.
- `customer_without_email`: the customers who get no e-mail, for `report`'s count.
"""

SCRIPT = """
ALTER TABLE customer ADD COLUMN email TEXT CHECK (email IS NULL OR typeof(email) = 'text');
CREATE TABLE notification (
    id              INTEGER PRIMARY KEY,
    dedupe_key      TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (
                      kind = 'receipt' OR kind = 'payment_failed' OR kind = 'action_required'
                      OR kind = 'final_notice' OR kind = 'run_summary'),
    run_id          INTEGER NOT NULL REFERENCES billing_run(id),
    attempt_id      INTEGER REFERENCES payment_attempt(id),
    recipient       TEXT,
    next_retry_on   TEXT CHECK (next_retry_on IS NULL
                                OR date(next_retry_on, '+0 days') IS next_retry_on),
    body            TEXT,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (
                      status = 'pending' OR status = 'sent' OR status = 'failed'
                      OR status = 'skipped' OR status = 'withdrawn'),
    tries           INTEGER NOT NULL DEFAULT 0 CHECK (tries >= 0),
    next_attempt_at TEXT NOT NULL,
    lease_owner     TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    last_error      TEXT,
    CHECK ((attempt_id IS NULL) = (kind = 'run_summary')),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX notification_due ON notification(next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notification_undelivered ON notification(status, id)
    WHERE status = 'failed' OR status = 'skipped' OR status = 'withdrawn';
CREATE INDEX customer_without_email ON customer(id)
    WHERE email IS NULL OR trim(email, char(32, 9, 10, 13, 11, 12)) = '';
"""
