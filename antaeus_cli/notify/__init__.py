"""Telling customers and the operator: rendering notices and delivering the outbox."""
