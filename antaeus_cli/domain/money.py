"""Currencies and money in integer minor units. Pure: no I/O, no floats."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import NumberPattern, parse_pattern

from antaeus_cli.domain.currencies import MINOR_DIGITS

# A sanity bound, not a business rule: no subscription invoice is this large, so
# an amount above it is treated as a corrupt row rather than sent to a provider.
MAX_CHARGE_MINOR = 10_000_000_000


class Currency(str):
    """An ISO 4217 currency an invoice may be in (domain.currencies holds the table).
    `Currency(code)` is the one instance for `code`, and refuses a code not in use."""

    __slots__ = ()

    def __new__(cls, code: str) -> Currency:
        found = _BY_CODE.get(code)
        if found is None:
            raise ValueError(f"{code!r} is not a currency in use (ISO 4217)")
        return found

    @property
    def value(self) -> str:
        """The code, as a plain string (what the database holds)."""
        return str.__str__(self)

    @property
    def minor_digits(self) -> int:
        """How many decimal places the currency's minor unit has."""
        return MINOR_DIGITS[self]

    @classmethod
    def parse(cls, value: object) -> Currency | None:
        """The currency named by `value`, or None when it is no currency in use."""
        return _BY_CODE.get(value) if isinstance(value, str) else None


_BY_CODE: dict[str, Currency] = {code: str.__new__(Currency, code) for code in MINOR_DIGITS}
CURRENCIES: tuple[Currency, ...] = tuple(_BY_CODE.values())  # in code order


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
        if other.currency != self.currency:
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


def display_amount(minor: int, currency: str) -> str:
    """An amount as its currency's home market writes it for a customer (CLDR), every
    digit of the minor unit shown: 123456 DKK -> '1.234,56 kr.'. A currency that is no
    currency in use falls back to `format_minor`."""
    parsed = Currency.parse(currency)
    if parsed is None:
        return format_minor(minor, currency)
    home = _HOMES.get(parsed) or _home(parsed)
    major = Decimal(minor).scaleb(-parsed.minor_digits)
    return str(home.pattern.apply(major, home.locale, currency=parsed, currency_digits=False))


class _Home(NamedTuple):
    locale: Locale
    pattern: NumberPattern  # the locale's currency pattern, to the minor unit's digits


_HOMES: dict[str, _Home] = {}


def _home(currency: Currency) -> _Home:
    """Where a national currency is at home, by its code's first two letters (DKK: the
    Danish of Denmark); a currency of many countries (EUR, XOF) is written in English.
    A home whose symbol for it shows nothing (CLDR gives Cabo Verde's escudo a zero-width
    space, as its own writing puts the sign in the decimal point's place) writes the
    code instead, so that no notice shows a bare number."""
    territory = currency[:2]
    held = get_global("territory_currencies").get(territory, ())
    locale = Locale.parse("en")
    if any(code == currency and end is None for code, _start, end, _tender in held):
        # a union's code (EU) names no language of its own: English
        with suppress(UnknownLocaleError):
            locale = Locale.parse(f"und_{territory}")
    text = locale.currency_formats["standard"].pattern
    if not any(ch.isprintable() for ch in locale.currency_symbols.get(currency, currency)):
        text = text.replace("\u00a4", "\u00a4\u00a4")  # a symbol nobody sees: the code
    pattern = parse_pattern(text)
    pattern.frac_prec = (currency.minor_digits, currency.minor_digits)
    _HOMES[currency] = home = _Home(locale, pattern)
    return home


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
