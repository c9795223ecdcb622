"""The billing domain: money, invoices, the dunning schedule. No I/O happens here."""
