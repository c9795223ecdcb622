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

Data, not rules: the table is built once, at import, and the tests hold it to those
facts (`tests/domain/test_currencies.py`).
"""

from __future__ import annotations

from contextlib import suppress
from functools import cache
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import NumberPattern, get_currency_precision, parse_pattern

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal):
# their amounts are whole units.
ZERO_DECIMAL: Final = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)

_HELD: Final = get_global("territory_currencies")  # territory -> [(code, from, to, tender)]
_IN_USE: Final = sorted(
    {
        code
        for held in _HELD.values()
        for code, _start, end, tender in held
        if tender and end is None and len(code) == 3 and code.isascii() and code.isupper()
    }
)
# ISO 4217's minor unit where CLDR writes a currency without one and it is not two.
WRITTEN_WITHOUT: Final = {"IQD": 3}  # 1,000 fils to the Iraqi dinar
# CLDR's 0 means "written without cents", not "has none": as ISO 4217 has them
MINOR_DIGITS: Final[dict[str, int]] = {
    code: 0
    if code in ZERO_DECIMAL
    else (get_currency_precision(code) or WRITTEN_WITHOUT.get(code, 2))
    for code in _IN_USE
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
    territory = code[:2]
    locale = Locale.parse("en")
    if any(held == code and end is None for held, _start, end, _t in _HELD.get(territory, ())):
        # a union's code (EU) names no language of its own: English
        with suppress(UnknownLocaleError):
            locale = Locale.parse(f"und_{territory}")
    text = locale.currency_formats["standard"].pattern
    if not any(ch.isprintable() for ch in locale.currency_symbols.get(code, code)):
        text = text.replace("\u00a4", "\u00a4\u00a4")  # a symbol nobody sees: the code
    pattern = parse_pattern(text)
    pattern.frac_prec = (MINOR_DIGITS[code], MINOR_DIGITS[code])
    return locale, pattern
