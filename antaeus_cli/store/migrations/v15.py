"""Version 15: the locale a customer's notices are written for.

- `customer.locale`: a BCP 47 tag (`da-DK`, `de`, `sv-SE`), or NULL for the company's
  locale. `antaeus import` and the fixtures store a tag CLDR knows, in its canonical
  spelling (`domain.locales`). The CHECK holds any other writer to what can be a tag:
  text of 2 to 35 characters, each an ASCII letter, a digit or '-'. SQLite's
  `length()` and GLOB stop at a NUL, so the length is also counted in bytes: a NUL,
  or any character outside ASCII, makes the two counts differ.

Existing customers get NULL: the company's locale, as before. No table is rebuilt.
"""

SCRIPT = """
ALTER TABLE customer ADD COLUMN locale TEXT
    CHECK (locale IS NULL OR (typeof(locale) = 'text'
                              AND length(CAST(locale AS BLOB)) BETWEEN 2 AND 35
                              AND length(locale) = length(CAST(locale AS BLOB))
                              AND locale NOT GLOB '*[^A-Za-z0-9-]*'));
"""
