"""Version 9: the month each charge was for, kept with the charge.

- `payment_attempt.period`: the month (`YYYY-MM`) of the invoice's due date when the
  attempt was claimed. It is part of the request, so it never changes: the
  duplicate-period rule (domain.judgement) judges a customer's month by the charges
  that succeeded or may have succeeded in it, whatever became of the invoice rows
  since (a due date edited, an invoice deleted). Rows written before this version
  take their invoice's due date as it is now, the best fact there is.
- `payment_attempt_period`: one probe answers "did any charge for this customer's
  month, by another invoice, succeed, or may it have?". It holds every attempt, not
  only charged and open ones: a partial index on the outcome would be rewritten by
  every settlement, while this one is written once, at the claim; the probe reads a
  row only for another invoice's attempts in the same month, which are rare.
- `payment_attempt_request_is_final` covers the new column.
"""

SCRIPT = """
ALTER TABLE payment_attempt ADD COLUMN period TEXT
    CHECK (period IS NULL OR (typeof(period) = 'text' AND length(period) = 7));
UPDATE payment_attempt SET period = (
    SELECT CASE WHEN typeof(i.due_date) = 'text' AND length(i.due_date) >= 7
           THEN substr(i.due_date, 1, 7) END
    FROM invoice i WHERE i.id = payment_attempt.invoice_id);
CREATE INDEX payment_attempt_period ON payment_attempt(customer_id, period, invoice_id);
DROP TRIGGER payment_attempt_request_is_final;
CREATE TRIGGER payment_attempt_request_is_final BEFORE UPDATE OF
    id, invoice_id, customer_id, customer_ref, attempt_no, idempotency_key, run_id, command,
    amount, currency, from_status, started_at, period ON payment_attempt
BEGIN
    SELECT RAISE(ABORT, 'payment_attempt is append-only: what was requested never changes');
END;
"""
