"""Which currencies an invoice may be in, how many decimal places each one's minor unit
has, and where each is at home: the data every amount in the ledger is counted and
written by, read from CLDR (through Babel).

The currencies are the ISO 4217 codes that CLDR lists as legal tender somewhere today,
with no end date: about 150, withdrawn and fund codes (DEM, XAU, CLF) left out. The
minor units are CLDR's, except that only a currency on Stripe's zero-decimal list has
none: CLDR writes some currencies without their cents (HUF, IDR, COP, ISK...), but
their amounts still have them in ISO 4217 and at Stripe, and an amount must mean what
the provider charges (ISO 4217's three for the Iraqi dinar, two for the others). So
the ledger's unit is the one Stripe's API counts in: 1000 JPY is 1,000 yen, 1000 HUF
is 10.00 forint, 1000 BHD is 1.000 dinar.

Data, not rules: the table is written out below, and the tests hold it to CLDR and to
those facts (`tests/domain/test_currencies.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from functools import cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal):
# their amounts are whole units.
ZERO_DECIMAL: Final = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)

# ISO 4217's minor unit where CLDR writes a currency without one and it is not two.
WRITTEN_WITHOUT: Final = {"IQD": 3}  # 1,000 fils to the Iraqi dinar

# The table, as `from_cldr` derives it from the CLDR data of the Babel installed when it
# was written; a test fails when they differ, so that a Babel upgrade never changes a
# currency's minor unit unseen (and start-up does not load CLDR's data to know it).
# Regenerate with `python -m tests.tools.currency_table`.
MINOR_DIGITS: Final[dict[str, int]] = {
    "AED": 2,
    "AFN": 2,
    "ALL": 2,
    "AMD": 2,
    "AOA": 2,
    "ARS": 2,
    "AUD": 2,
    "AWG": 2,
    "AZN": 2,
    "BAM": 2,
    "BBD": 2,
    "BDT": 2,
    "BHD": 3,
    "BIF": 0,
    "BMD": 2,
    "BND": 2,
    "BOB": 2,
    "BRL": 2,
    "BSD": 2,
    "BTN": 2,
    "BWP": 2,
    "BYN": 2,
    "BZD": 2,
    "CAD": 2,
    "CDF": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "COP": 2,
    "CRC": 2,
    "CUP": 2,
    "CVE": 2,
    "CZK": 2,
    "DJF": 0,
    "DKK": 2,
    "DOP": 2,
    "DZD": 2,
    "EGP": 2,
    "ERN": 2,
    "ETB": 2,
    "EUR": 2,
    "FJD": 2,
    "FKP": 2,
    "GBP": 2,
    "GEL": 2,
    "GHS": 2,
    "GIP": 2,
    "GMD": 2,
    "GNF": 0,
    "GTQ": 2,
    "GYD": 2,
    "HKD": 2,
    "HNL": 2,
    "HTG": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "IQD": 3,
    "IRR": 2,
    "ISK": 2,
    "JMD": 2,
    "JOD": 3,
    "JPY": 0,
    "KES": 2,
    "KGS": 2,
    "KHR": 2,
    "KMF": 0,
    "KPW": 2,
    "KRW": 0,
    "KWD": 3,
    "KYD": 2,
    "KZT": 2,
    "LAK": 2,
    "LBP": 2,
    "LKR": 2,
    "LRD": 2,
    "LSL": 2,
    "LYD": 3,
    "MAD": 2,
    "MDL": 2,
    "MGA": 0,
    "MKD": 2,
    "MMK": 2,
    "MNT": 2,
    "MOP": 2,
    "MRU": 2,
    "MUR": 2,
    "MVR": 2,
    "MWK": 2,
    "MXN": 2,
    "MYR": 2,
    "MZN": 2,
    "NAD": 2,
    "NGN": 2,
    "NIO": 2,
    "NOK": 2,
    "NPR": 2,
    "NZD": 2,
    "OMR": 3,
    "PAB": 2,
    "PEN": 2,
    "PGK": 2,
    "PHP": 2,
    "PKR": 2,
    "PLN": 2,
    "PYG": 0,
    "QAR": 2,
    "RON": 2,
    "RSD": 2,
    "RUB": 2,
    "RWF": 0,
    "SAR": 2,
    "SBD": 2,
    "SCR": 2,
    "SDG": 2,
    "SEK": 2,
    "SGD": 2,
    "SHP": 2,
    "SLE": 2,
    "SOS": 2,
    "SRD": 2,
    "SSP": 2,
    "STN": 2,
    "SYP": 2,
    "SZL": 2,
    "THB": 2,
    "TJS": 2,
    "TMT": 2,
    "TND": 3,
    "TOP": 2,
    "TRY": 2,
    "TTD": 2,
    "TWD": 2,
    "TZS": 2,
    "UAH": 2,
    "UGX": 0,
    "USD": 2,
    "UYU": 2,
    "UZS": 2,
    "VES": 2,
    "VND": 0,
    "VUV": 0,
    "WST": 2,
    "XAF": 0,
    "XCD": 2,
    "XCG": 2,
    "XOF": 0,
    "XPF": 0,
    "YER": 2,
    "ZAR": 2,
    "ZMW": 2,
    "ZWG": 2,
}


def _held() -> Mapping[str, list[tuple[str, object, object, bool]]]:
    """Each territory's currencies: (code, from, to, legal tender), from CLDR."""
    from babel.core import get_global  # noqa: PLC0415 - kept off the start-up path

    return get_global("territory_currencies")


def from_cldr() -> dict[str, int]:
    """The table from CLDR: the codes some territory holds as legal tender with no end
    date, each with its minor digits. CLDR's 0 means "written without cents", not "has
    none": as ISO 4217 has them, unless Stripe's zero-decimal list says none."""
    from babel.numbers import get_currency_precision  # noqa: PLC0415 - kept off the start-up path

    in_use = {
        code
        for held in _held().values()
        for code, _start, end, tender in held
        if tender and end is None and len(code) == 3 and code.isascii() and code.isupper()
    }
    return {
        code: 0
        if code in ZERO_DECIMAL
        else (get_currency_precision(code) or WRITTEN_WITHOUT.get(code, 2))
        for code in sorted(in_use)
    }


@cache
def home(code: str) -> tuple[Locale, NumberPattern]:
    """How a currency's home market writes an amount of it: the locale, and its currency
    pattern set to the currency's minor digits. A national currency is at home where its
    code's first two letters say (DKK: the Danish of Denmark); a currency of many
    countries (EUR, XOF) is written in English. A home whose symbol for it shows nothing
    (CLDR gives Cabo Verde's escudo a zero-width space, as its own writing puts the sign
    in the decimal point's place) writes the code instead, so that no notice shows a
    bare number."""
    from babel import Locale, UnknownLocaleError  # noqa: PLC0415 - kept off the start-up path

    territory = code[:2]
    locale = Locale.parse("en")
    if any(held == code and end is None for held, _start, end, _t in _held().get(territory, ())):
        # a union's code (EU) names no language of its own: English
        with suppress(UnknownLocaleError):
            locale = Locale.parse(f"und_{territory}")
    return locale, currency_pattern(locale, code)


@cache
def currency_pattern(locale: Locale, code: str) -> NumberPattern:
    """How `locale` writes an amount of `code`: its currency pattern, set to the
    currency's minor digits; the code for a symbol nobody would see (see `home`)."""
    from babel.numbers import parse_pattern  # noqa: PLC0415 - kept off the start-up path

    text = locale.currency_formats["standard"].pattern
    if not any(ch.isprintable() for ch in locale.currency_symbols.get(code, code)):
        text = text.replace("\u00a4", "\u00a4\u00a4")  # a symbol nobody sees: the code
    pattern = parse_pattern(text)
    pattern.frac_prec = (MINOR_DIGITS[code], MINOR_DIGITS[code])
    return pattern
