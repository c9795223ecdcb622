"""A customer's locale: a BCP 47 tag that CLDR knows, in its canonical form."""

from __future__ import annotations

import functools

MAX_TAG = 35  # RFC 5646's practical limit


@functools.lru_cache(maxsize=1024)
def parse_locale(text: str) -> str | None:
    """The canonical tag (`da-DK`, `de`, `sv-SE`) of `text` (`da_dk`, `DA-DK`), or None
    when it is no tag or one CLDR does not know. `und` (no language), private-use
    subtags and the POSIX names (`C`, `POSIX`) are no locale a notice can be written in."""
    from babel import Locale, UnknownLocaleError  # noqa: PLC0415 - off the start-up path

    tag = text.strip().replace("_", "-")
    if not 2 <= len(tag) <= MAX_TAG or not tag.isascii() or not tag.replace("-", "").isalnum():
        return None
    if tag.split("-")[0].lower() == "und":  # Babel would guess a language for it
        return None
    try:
        locale = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    if locale.language == "root" or "POSIX" in (locale.variant or "").upper():
        return None  # CLDR's root and POSIX forms: no language, and no grouping
    return str(locale).replace("_", "-")
