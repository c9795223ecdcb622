"""Where notices go: the channel port and its adapters (SMTP, Maildir, signed webhooks)."""
