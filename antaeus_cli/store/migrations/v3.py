"""Version 3: the report reads totals instead of scanning a million invoices.

Version 2 indexed only what a pass looks for. Version 3 gives every status but PAID a
partial index that also holds currency and amount, so the report totals each of
those statuses from its own, small index. PAID, the status most invoices end in,
gets none: writing a payment touches no index. Its totals are derived from
`invoice_total`, the count and amount of all invoices per currency, minus the other
statuses. Triggers keep `invoice_total` exact; they fire only when an invoice is
written, removed, or its amount or currency edited, never on a status change, so
billing pays nothing for them.

`collected` is what the ledger says was charged, per currency, kept by the
settlement writes: the figure to reconcile with the provider's settlement report.

Both tables are filled from the existing rows, inside the migration's transaction.
"""

# Kept apart: a bulk load drops them, writes its rows and the totals, and re-creates them.
TOTAL_TRIGGERS = """
CREATE TRIGGER invoice_total_insert AFTER INSERT ON invoice
BEGIN
    INSERT INTO invoice_total VALUES (NEW.currency, 1, NEW.amount)
    ON CONFLICT (currency) DO UPDATE SET count = count + 1, amount = amount + excluded.amount;
END;
CREATE TRIGGER invoice_total_delete AFTER DELETE ON invoice
BEGIN
    UPDATE invoice_total SET count = count - 1, amount = amount - OLD.amount
    WHERE currency = OLD.currency;
END;
CREATE TRIGGER invoice_total_update AFTER UPDATE OF amount, currency ON invoice
BEGIN
    UPDATE invoice_total SET count = count - 1, amount = amount - OLD.amount
    WHERE currency = OLD.currency;
    INSERT INTO invoice_total VALUES (NEW.currency, 1, NEW.amount)
    ON CONFLICT (currency) DO UPDATE SET count = count + 1, amount = amount + excluded.amount;
END;
"""
TOTAL_TRIGGER_NAMES = ("invoice_total_insert", "invoice_total_delete", "invoice_total_update")

SCRIPT = (
    """
DROP INDEX invoice_pending;
DROP INDEX invoice_failed;
CREATE INDEX invoice_pending ON invoice(id, currency, amount) WHERE status = 'PENDING';
CREATE INDEX invoice_failed ON invoice(id, currency, amount) WHERE status = 'FAILED';
CREATE INDEX invoice_processing ON invoice(id, currency, amount) WHERE status = 'PROCESSING';
CREATE INDEX invoice_operator ON invoice(id, currency, amount) WHERE status = 'NEEDS_OPERATOR';
CREATE INDEX invoice_uncollectible ON invoice(id, currency, amount)
    WHERE status = 'UNCOLLECTIBLE';

CREATE TABLE invoice_total (
    currency TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    amount   INTEGER NOT NULL
) WITHOUT ROWID;
-- sum() raises on a 64-bit overflow, and hostile rows may hold amounts near the limit.
-- Summed in two halves and joined with * and +, which turn an overflow into a REAL,
-- as the triggers' + does: the report then sees an inexact total and counts exactly.
INSERT INTO invoice_total
SELECT currency, count(*), sum(amount >> 32) * 4294967296 + sum(amount & 4294967295)
FROM invoice GROUP BY currency;

CREATE TABLE collected (
    currency TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    amount   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO collected
SELECT currency, count(*), sum(amount) FROM payment_attempt WHERE outcome = 'charged'
GROUP BY currency;
"""
    + TOTAL_TRIGGERS
)
