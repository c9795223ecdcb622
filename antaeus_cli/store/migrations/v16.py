"""Version 16: at most one open attempt per invoice, held by a constraint.

- `payment_attempt_one_open`: a partial UNIQUE index on `payment_attempt(invoice_id)`
  over the open attempts (`finished_at IS NULL`). Every claim already leaves an
  invoice with a charge in flight alone; from this version the database refuses a
  second open attempt for one invoice whatever writes it (a claim, a hand edit, a
  second pass), as the final arbiter. It replaces `payment_attempt_open`, the index of
  open attempts by id: the same entries, one B-tree per attempt written as before.

`antaeus migrate` refuses, before its backup, a database in which some invoice has
two open attempts already (written by hand), naming them: an operator settles all
but one by hand first.
"""

SCRIPT = """
CREATE UNIQUE INDEX payment_attempt_one_open ON payment_attempt(invoice_id)
    WHERE finished_at IS NULL;
DROP INDEX payment_attempt_open;
"""
