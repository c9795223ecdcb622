"""Seed data: the challenge's data set, generated, or a scenario loaded from a fixture."""
