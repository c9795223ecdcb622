"""Billing passes: claim, charge, record and classify, batch by batch."""
