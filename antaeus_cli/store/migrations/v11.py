"""Version 11: the upstream system's own identifier, for `antaeus import`.

- `customer.external_id`, `invoice.external_id`: the id the system that holds the
  customer or invoice gives it (a CRM's account id, an invoicing system's invoice
  number). An import of the same export twice adds nothing: a row is matched by it.
  NULL for rows written otherwise (by SQL, or by `seed`); unique where set.
"""

SCRIPT = """
ALTER TABLE customer ADD COLUMN external_id TEXT
    CHECK (external_id IS NULL OR (typeof(external_id) = 'text'
                                   AND length(external_id) BETWEEN 1 AND 200));
CREATE UNIQUE INDEX customer_by_external_id ON customer(external_id)
    WHERE external_id IS NOT NULL;
ALTER TABLE invoice ADD COLUMN external_id TEXT
    CHECK (external_id IS NULL OR (typeof(external_id) = 'text'
                                   AND length(external_id) BETWEEN 1 AND 200));
CREATE UNIQUE INDEX invoice_by_external_id ON invoice(external_id)
    WHERE external_id IS NOT NULL;
"""
