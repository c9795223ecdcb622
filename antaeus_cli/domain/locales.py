"""A customer's locale: the language and region their notices are written for. Pure.

`parse_locale` reads a BCP 47 tag (`da-DK`, `de`, `sv-SE`; the POSIX spelling `da_DK`
and any case are read too) and gives its canonical spelling, the one stored in
`customer.locale`, or None for a tag that is malformed or that CLDR (through Babel)
has no data for. What it decides, and why:

- **Canonical** is the locale Babel reads the tag as, written as RFC 5646 writes tags:
  subtags joined by '-', the language and a variant in lower case, a script in title
  case, the region in capitals (`DA_dk` is `da-DK`, `ca_es_VALENCIA` `ca-ES-valencia`).
  Babel may add what a tag leaves to be inferred (`zh-TW` is `zh-Hant-TW`), never
  change or drop what it says. A tag Babel can only read as another one is refused:
  a deprecated code (`iw`, which it reads as `he-IL`), a region it does not know
  (`en-ZZ`, which it reads as `en-US`), a variant it has no data for (`de-DE-1996`,
  which it reads as `de-DE`). Which locale was meant is for the upstream system to
  say; a guess would write to a customer in a language, or with dates, nobody named.
  Reading a canonical tag again gives it back unchanged.
- **`und`** (undetermined) names no language, and Babel would guess one (`en-US`):
  refused, with any tag whose language it is (`und-DK`).
- **`C` and `POSIX`** are names of the C library's locale, not BCP 47 tags (Babel
  reads both as `en-US-POSIX`): refused. So is `en-US-POSIX` itself, CLDR's locale for
  the C library, which writes 1234567.5 with no grouping, and `root`, CLDR's parent of
  every locale: no customer reads either.
- **Extensions and private use** (`en-US-u-ca-gregory`, `en-US-x-private`, `x-klingon`)
  name nothing Babel reads: refused.
- **Malformed**: empty, longer than 35 characters (RFC 5646's practical limit), any
  character but ASCII letters, digits, '-' and '_' (spaces, NUL, `../x`, `dé`), a
  language that is not 2 or 3 letters, an empty or over-long subtag (`en--GB`, `en-`).
  These are refused before Babel sees them, so a hostile value costs a length check
  and one bounded regular expression, and is never cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

MAX_TAG: Final = 35  # characters; RFC 5646, 4.4.1: the length every tag CLDR knows fits
# A language of 2 or 3 letters, then subtags of 1 to 8 letters or digits, each after one
# '-' or '_'. ASCII only: no \w, whose letters and digits are Unicode's.
_SHAPE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_CACHED = 512  # distinct tags kept; an import names a few dozen


def parse_locale(text: str) -> str | None:
    """The canonical BCP 47 tag of `text` (`da-DK` for `da_dk`), or None when it is no
    tag or one CLDR has no data for. See the module's docstring for what is refused."""
    if not 2 <= len(text) <= MAX_TAG or _SHAPE.fullmatch(text) is None:
        return None
    return _canonical(text.replace("_", "-").lower())


@lru_cache(maxsize=_CACHED)
def _canonical(tag: str) -> str | None:
    """`tag`: well formed, in lower case, with '-' between its subtags."""
    from babel import Locale, UnknownLocaleError  # noqa: PLC0415 - kept off the start-up path

    try:
        locale = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    variant = locale.variant and locale.variant.lower()  # Babel writes it in capitals
    if variant == "posix":
        return None  # the C library's locale: see the module's docstring
    parts = (locale.language, locale.script, locale.territory, variant)
    canonical = "-".join(part for part in parts if part)
    if not set(tag.split("-")) <= set(canonical.lower().split("-")):
        return None  # Babel read it as another tag (und as en-US): see the module's docstring
    return canonical if len(canonical) <= MAX_TAG else None
