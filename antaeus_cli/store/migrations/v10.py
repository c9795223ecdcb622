"""Version 10: how long an open attempt has gone unsettled, so that it is never silent.

- `payment_attempt.lookup_passes`: how many passes looked the attempt's key up (a
  replay) and still could not settle it: the provider could not be asked, did not
  answer, or says the charge is still processing. Each pass counts once, however
  many of its sweeps replayed the key. `domain.overdue` reads it, with the
  attempt's age, to decide when the attempt needs an operator.
- `payment_attempt.looked_up_by_run_id`: the last pass that counted, so that a pass
  counts once.

Attempts open when the file is migrated start at 0: their earlier look-ups were
not recorded.
"""

SCRIPT = """
ALTER TABLE payment_attempt ADD COLUMN lookup_passes INTEGER NOT NULL DEFAULT 0
    CHECK (typeof(lookup_passes) = 'integer' AND lookup_passes >= 0);
ALTER TABLE payment_attempt ADD COLUMN looked_up_by_run_id INTEGER REFERENCES billing_run(id);
"""
