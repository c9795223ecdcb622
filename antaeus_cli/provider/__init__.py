"""The payment-provider port, its errors, and the adapters behind it."""
