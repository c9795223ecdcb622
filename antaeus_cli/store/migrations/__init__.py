"""Each schema version's DDL, applied in order by antaeus_cli.store.schema.migrate."""
