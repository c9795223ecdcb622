"""antaeus: charges monthly subscription invoices, one cron-driven pass at a time."""

__version__ = "0.1.0"
