"""How a count reads: "1 invoice", "2 invoices". Pure.

Every summary, reason and notice that counts something says it through `counted`,
so that none says "1 invoices".
"""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and the noun, singular for exactly one, else the plural (the noun with
    an "s", unless another is given)."""
    word = noun if count == 1 else plural or f"{noun}s"
    return f"{count} {word}"
