"""Currencies and money in integer minor units. Pure: no I/O, no floats."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

# A sanity bound, not a business rule: no subscription invoice is this large, so
# an amount above it is treated as a corrupt row rather than sent to a provider.
MAX_CHARGE_MINOR = 10_000_000_000


class Currency(enum.StrEnum):
    """The five markets the company sells in."""

    EUR = "EUR"
    USD = "USD"
    DKK = "DKK"
    SEK = "SEK"
    GBP = "GBP"

    @property
    def minor_digits(self) -> int:
        """How many decimal places the currency's minor unit has (ISO 4217)."""
        return _MINOR_DIGITS[self]

    @classmethod
    def parse(cls, value: object) -> Currency | None:
        """The currency named by `value`, or None when it is not one of ours."""
        return _BY_CODE.get(value) if isinstance(value, str) else None


_BY_CODE: dict[str, Currency] = {c.value: c for c in Currency}

_MINOR_DIGITS = {
    Currency.EUR: 2,
    Currency.USD: 2,
    Currency.DKK: 2,
    Currency.SEK: 2,
    Currency.GBP: 2,
}


class CurrencyMix(ValueError):
    """Two amounts in different currencies were combined."""


class Money(NamedTuple):
    """An amount in integer minor units of one currency.

    Value objects on the billing path are NamedTuples: immutable like frozen
    dataclasses, but about twice as fast to build, which a million invoices notice.
    """

    minor: int
    currency: Currency

    def __add__(self, other: Money) -> Money:  # type: ignore[override]
        if other.currency is not self.currency:
            raise CurrencyMix(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)

    def __str__(self) -> str:
        return format_minor(self.minor, self.currency)


def format_minor(minor: int, currency: str) -> str:
    """Format minor units for humans, e.g. 123456 EUR -> 'EUR 1,234.56'.

    An unknown currency code is shown with its raw minor units, because we
    cannot know where its decimal point goes.
    """
    parsed = Currency.parse(currency)
    if parsed is None:
        return f"{currency} {minor:,} (minor units)"
    major = Decimal(minor).scaleb(-parsed.minor_digits)
    return f"{parsed} {major:,.{parsed.minor_digits}f}"


# How each market writes an amount for a customer: symbol, where it goes, and the
# thousands and decimal separators.
_DISPLAY: dict[Currency, tuple[str, str, str, str]] = {
    Currency.USD: ("$", "", ",", "."),
    Currency.GBP: ("\u00a3", "", ",", "."),
    Currency.EUR: ("\u20ac", "", ",", "."),
    Currency.DKK: ("", " kr.", ".", ","),
    Currency.SEK: ("", " kr", "\u00a0", ","),
}


def display_amount(minor: int, currency: str) -> str:
    """An amount as its market writes it for a customer: 123456 DKK -> '1.234,56 kr.'.

    A currency that is not one of ours falls back to `format_minor`.
    """
    parsed = Currency.parse(currency)
    if parsed is None:
        return format_minor(minor, currency)
    prefix, suffix, thousands, point = _DISPLAY[parsed]
    digits = parsed.minor_digits
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    grouped = f"{whole:,}".replace(",", thousands)
    tail = f"{point}{fraction:0{digits}d}" if digits else ""
    return f"{sign}{prefix}{grouped}{tail}{suffix}"


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    """How many amounts, and their sum, in one currency."""

    currency: str
    count: int
    minor: int

    @property
    def formatted(self) -> str:
        return format_minor(self.minor, self.currency)


class Totals:
    """Running count and sum per currency. Amounts are never added across currencies."""

    __slots__ = ("_by_currency",)

    def __init__(self) -> None:
        self._by_currency: dict[str, list[int]] = {}

    def add(self, currency: str, minor: int) -> None:
        entry = self._by_currency.get(currency)
        if entry is None:
            self._by_currency[currency] = [1, minor]
        else:
            entry[0] += 1
            entry[1] += minor

    def take(self, currency: str, minor: int) -> None:
        """Take back one amount added before (a currency seen last goes from the rows)."""
        entry = self._by_currency.get(currency)
        if entry is None:
            return
        entry[0] -= 1
        entry[1] -= minor
        if entry[0] <= 0:
            del self._by_currency[currency]

    def rows(self) -> list[CurrencyTotal]:
        """One row per currency, in a stable order."""
        return [
            CurrencyTotal(currency, count, minor)
            for currency, (count, minor) in sorted(self._by_currency.items())
        ]

    def __bool__(self) -> bool:
        return bool(self._by_currency)
