"""Version 8: each customer's own calendar.

- `customer.timezone`: the customer's IANA zone name (`America/Los_Angeles`), NULL
  for the company's zone (`--tz`). An invoice is due when its due date has begun
  there; dunning dates are dates there too. Any text is accepted here: a name the
  zone database does not know holds that customer's invoices for an operator, with
  the reason, when they fall due.
- `customer_by_timezone`: the zones customers have, read once per pass by skipping
  from one name to the next, so a pass converts the moment once per zone, never
  once per invoice; and whether some customers have none, in one more probe.
- `billing_run.as_of_instant`: the instant a pass ran as of, in UTC, when it was
  given one (or read the clock); NULL when `--as-of` named a date for everybody.
  `as_of` stays the date: the company's local date at that instant.
"""

SCRIPT = """
ALTER TABLE customer ADD COLUMN timezone TEXT
    CHECK (timezone IS NULL OR typeof(timezone) = 'text');
CREATE INDEX customer_by_timezone ON customer(timezone);
ALTER TABLE billing_run ADD COLUMN as_of_instant TEXT
    CHECK (as_of_instant IS NULL OR (typeof(as_of_instant) = 'text'
           AND julianday(as_of_instant) IS NOT NULL));
"""
