"""Version 14: a charge settled by hand gets its receipt.

An operator settles an attempt no pass could (docs/design.md, Overdue attempts) by
hand, with `error = 'settled by hand: ...'`, having found the charge at the provider.
A pass that settles a charge queues its receipt in the same transaction; a hand
settlement queued none, so the customer who paid was never told. The trigger
`payment_attempt_settled_by_hand_is_receipted` queues it as the settling pass would:
the same dedupe key (the attempt's key and `-receipt`), to the customer's address as
it is now, due at once (`notify` takes it once the attempt's run has ended). A
receipt already queued under that key is kept as it is.
"""

SCRIPT = """
CREATE TRIGGER payment_attempt_settled_by_hand_is_receipted AFTER UPDATE OF outcome
ON payment_attempt
WHEN OLD.finished_at IS NULL AND NEW.outcome = 'charged' AND NEW.settled_by_run_id IS NULL
     AND coalesce(NEW.error, '') LIKE 'settled by hand:%'
BEGIN
    INSERT OR IGNORE INTO notification (dedupe_key, kind, run_id, attempt_id, recipient,
                                        next_attempt_at, created_at)
    SELECT NEW.idempotency_key || '-receipt', 'receipt', NEW.run_id, NEW.id,
           (SELECT c.email FROM customer c WHERE c.id = NEW.customer_id),
           NEW.finished_at, NEW.finished_at;
END;
"""
