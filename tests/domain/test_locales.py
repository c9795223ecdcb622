"""A customer's locale: a BCP 47 tag CLDR knows, read in any spelling and kept in its
canonical one; anything else, however hostile, is no locale."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.domain.locales import MAX_TAG, parse_locale

# What the schema holds (migrations/v15.py): NULL, or 2 to 35 ASCII letters, digits, '-'.
STORABLE = re.compile(r"[A-Za-z0-9-]{2,35}")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("da-DK", "da-DK"),
        ("da_DK", "da-DK"),
        ("DA-dk", "da-DK"),
        ("da_dk", "da-DK"),
        ("de", "de"),
        ("DE", "de"),
        ("de-de", "de-DE"),
        ("sv-SE", "sv-SE"),
        ("en-GB", "en-GB"),
        ("en_gb", "en-GB"),
        ("nb", "nb"),
        ("fil", "fil"),
        ("es-419", "es-419"),  # a region written as digits (Latin America)
        ("sr-latn-rs", "sr-Latn-RS"),  # a script, in title case
        ("zh-TW", "zh-Hant-TW"),  # the script Babel infers is added
        ("zh_CN", "zh-Hans-CN"),
        ("ca_ES_VALENCIA", "ca-ES-valencia"),  # a variant CLDR has data for, in lower case
    ],
)
def test_a_tag_cldr_knows_reads_as_its_canonical_spelling(text: str, canonical: str) -> None:
    assert parse_locale(text) == canonical
    assert parse_locale(canonical) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "d",
        "../x",
        "../../etc/passwd",
        "da-DK\x00",
        "da\x00DK",
        "dé",
        "da-DK\u200b",  # a zero-width space
        "\uff44\uff41-\uff24\uff2b",  # fullwidth da-DK: letters to Unicode, not to BCP 47
        "es-\u0664\u0661\u0669",  # 419 in Arabic-Indic digits
        " da-DK",
        "da-DK\n",
        "da DK",
        "da--DK",
        "da-",
        "-da",
        "da-DK-",
        "da.DK",
        "en_US.UTF-8",
        "de_DE@euro",
        "C",
        "C.UTF-8",
        "POSIX",
        "en-US-POSIX",  # CLDR has it, for the C library: no grouping in its numbers
        "en_us_posix",
        "root",
        "und",
        "UND",
        "und-DK",
        "en-US-x-private",
        "x-private",
        "i-klingon",
        "en-US-u-ca-gregory",
        "zz",
        "zz-ZZ",
        "xx-DK",
        "de-XX",
        "en-ZZ",  # Babel would read it as en-US
        "iw",  # deprecated for he: Babel would read it as he-IL
        "deu",  # German in ISO 639-2: Babel would read it as de-DE
        "en-Latn-US",  # Babel would drop the script
        "de-DE-1996",  # a variant CLDR has no data for: Babel would drop it
        "en-US-abcdefghi",  # a subtag longer than 8
        "a" * (MAX_TAG + 1),
        "en-" + "US-" * 11 + "US",  # well formed but for its length
        "da-DK" * 200_000,  # very long
    ],
)
def test_what_is_no_tag_cldr_knows_is_no_locale(text: str) -> None:
    assert parse_locale(text) is None


def test_every_locale_cldr_has_data_for_is_read_as_itself() -> None:
    from babel.localedata import locale_identifiers

    for identifier in set(locale_identifiers()) - {"en_US_POSIX"}:
        tag = identifier.replace("_", "-")
        assert (parse_locale(tag) or "").lower() == tag.lower(), identifier


_SUBTAG = st.text(alphabet="abcdefghijklmnopqrstuvwxyzHANTDKSE0123456789", min_size=1, max_size=9)


@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(_SUBTAG, min_size=1, max_size=5).map("-".join),
        st.lists(_SUBTAG, min_size=1, max_size=5).map("_".join),
    )
)
def test_whatever_the_text_a_locale_read_is_storable_and_reads_as_itself(text: str) -> None:
    canonical = parse_locale(text)
    if canonical is not None:
        assert STORABLE.fullmatch(canonical)
        assert parse_locale(canonical) == canonical
        assert parse_locale(canonical.upper()) == canonical
        assert canonical.split("-")[0] == text.replace("_", "-").split("-")[0].lower()
