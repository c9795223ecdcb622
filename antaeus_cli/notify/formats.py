"""How a notice writes amounts and dates for its reader: CLDR's ways (Babel) for the
reader's locale.

An amount is written with every digit of its currency's minor unit (as the ledger
counts it, `domain.currencies.MINOR_DIGITS`), in the locale's currency pattern and with
its symbol for the currency: 123456 DKK reads `1.234,56 kr.` in `da-DK`, `DKK 1,234.56`
in `en-GB`. A currency that is no currency in use is written as the operator's tools
write it (`domain.money.format_minor`). A date is written in the locale's long form
(`1. december 2026`). Everything is computed once per locale and currency, or day:
a run writes thousands of notices in a handful of locales.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal

from babel import Locale
from babel.dates import format_date

from antaeus_cli.domain.currencies import currency_pattern
from antaeus_cli.domain.locales import parse_locale
from antaeus_cli.domain.money import Currency, format_minor

FALLBACK = "en"  # what every notice can be written in, whatever the settings say


@functools.lru_cache(maxsize=512)
def known_locale(tag: str) -> Locale | None:
    """The locale a BCP 47 tag (`da-DK`, `de`) names, or None when CLDR does not know
    it (or it is no tag): `domain.locales.parse_locale` decides."""
    canonical = parse_locale(tag)
    return None if canonical is None else Locale.parse(canonical, sep="-")


def tag_of(locale: Locale) -> str:
    """A locale as a BCP 47 tag: `da-DK`."""
    return str(locale).replace("_", "-")


class Formats:
    """Amounts and dates as one locale writes them."""

    def __init__(self, locale: Locale) -> None:
        self.locale = locale
        self.tag = tag_of(locale)

    def amount(self, minor: int, currency: str) -> str:
        parsed = Currency.parse(currency)
        if parsed is None:
            return format_minor(minor, currency)
        pattern = currency_pattern(self.locale, str(parsed))
        major = Decimal(minor).scaleb(-parsed.minor_digits)
        return str(pattern.apply(major, self.locale, currency=str(parsed), currency_digits=False))

    def day(self, day: date) -> str:
        return _day(self.locale, day)


@functools.lru_cache(maxsize=4096)
def _day(locale: Locale, day: date) -> str:
    return str(format_date(day, format="long", locale=locale))
