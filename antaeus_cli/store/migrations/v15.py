"""Version 15: the language a customer is written to.

`customer.locale`: a BCP 47 tag (`da-DK`, `de`, `sv-SE`), the locale whose templates
and formats the customer's notices use; NULL, the company's (the templates' branding
`locale`, else English). A tag CLDR does not know, or one no template is written in,
falls back the same way when a notice is written: a notice never fails for its
customer's locale. The CHECK keeps out what no tag is (`antaeus import` stores each
tag in its canonical form).
"""

SCRIPT = """
ALTER TABLE customer ADD COLUMN locale TEXT
    CHECK (locale IS NULL OR (typeof(locale) = 'text' AND length(locale) BETWEEN 2 AND 35
                              AND locale NOT GLOB '*[^A-Za-z0-9-]*'));
"""
