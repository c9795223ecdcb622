"""Credentials in a spec, for provider and notify specs alike: which parameters hold
one, what a credential may hold, and how a spec is shown with every credential hidden.

Every rule here looks at names and values after percent-decoding, never at the text
as written: `api_ke%79=` is `api_key`, and is hidden as `api_key` is. Errors name a
parameter and never quote a value: a value may be a credential, or a piece of one
that a stray `&`, `#` or `/` split off.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

REDACTED = "***"
FILE_SUFFIX = "_file"
_SECRET_NAME = re.compile(r"(key|secret|token|password|passwd|credential|auth)", re.IGNORECASE)
# A password may hold spaces ("correct horse battery staple"); any other credential (an
# API key, a signing secret, a token) is one word, so a space in one is two of them.
_PASSWORD_NAME = re.compile(r"pass", re.IGNORECASE)
# Parameters whose names look secret but hold none: how long a provider keeps a key, and
# why AUTH may go without TLS (a word: loopback or trusted).
NOT_SECRET = frozenset({"key_retention_h", "auth_without_tls"})
# What a parameter's name looks like. Only such a name is quoted in an error: any other
# may be a piece of a credential that a stray `&` made into a name.
_NAME_LIKE = re.compile(r"[a-z]+(?:_[a-z]+)*")
_MAX_QUOTED_NAME = 32
ENCODING_HINT = "write '&', '=', '%', '+' and '#' in a value as %26, %3D, %25, %2B and %23"
# Characters shown percent-encoded in a spec as displayed, so that it reads back as given.
_ENCODED_IN_QUERY = frozenset("%&=+# ")
# A credential goes into an HTTP header (Stripe's key) or an SMTP login, which carry
# printable ASCII only. Whitespace around it (a file's last newline) is not part of it.
_PRINTABLE_ASCII = re.compile(r"[ -~]*")


def is_secret_name(name: str) -> bool:
    """Whether a parameter, by its decoded name, holds a credential or names its file."""
    return bool(_SECRET_NAME.search(name)) and name not in NOT_SECRET


def quotable(name: str) -> bool:
    """Whether a parameter's name may be quoted in an error."""
    return len(name) <= _MAX_QUOTED_NAME and bool(_NAME_LIKE.fullmatch(name))


def called(name: str) -> str:
    """A parameter as an error names it."""
    return repr(name) if quotable(name) else "a parameter whose name is not shown"


def unknown_parameter(name: str, scheme: str, known: Iterable[str]) -> str:
    """Why a spec was refused for a parameter its scheme does not take."""
    known = list(known)
    if not quotable(name):
        return (
            f"{scheme}:// was given a parameter it does not take, whose name is not shown in "
            f"case it is a piece of a credential ({ENCODING_HINT}); known: {', '.join(known)}"
        )
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown parameter {name!r} for {scheme}://{hint}; known: {', '.join(known)}"


def is_password_name(name: str) -> bool:
    """Whether a credential, by its decoded name, is a password (which may hold spaces)
    rather than a key, a secret or a token (which is one word)."""
    return bool(_PASSWORD_NAME.search(name))


def credential_problem(value: str, *, one_word: bool = False) -> str | None:
    """What makes `value` no credential, in words that never quote it; None if none.
    `one_word`: a key, not a password, so a space inside it is two keys (as during a
    rotation, the old and the new), and no HTTP header carries a key with one."""
    lines = len(value.splitlines())
    if lines > 1:
        return f"holds {lines} lines, where a credential is one line"
    if not _PRINTABLE_ASCII.fullmatch(value):
        return (
            "holds a tab, a control character or a character outside printable ASCII, "
            "which no credential can hold: it goes into an HTTP header or an SMTP login"
        )
    words = len(value.split())
    if one_word and words > 1:
        return f"holds {words} words separated by spaces, where a key is one word"
    return None


def several(value: str) -> bool:
    """Whether `value` looks like several credentials at once: the hint of a rotation."""
    return len(value.splitlines()) > 1 or len(value.split()) > 1


def described(scheme: str, location: str, params: Mapping[str, str]) -> str:
    """A spec as shown in logs, output and the run table: built from the decoded
    parameters, with the value of each whose name looks secret replaced by ***."""
    query = "&".join(
        f"{_shown(name)}={REDACTED if is_secret_name(name) else _shown(value)}"
        for name, value in params.items()
    )
    where = "".join(c if c.isprintable() and c != " " else quote(c) for c in storable(location))
    return f"{scheme}://{where}" + (f"?{query}" if query else "")


def storable(text: str) -> str:
    """`text` as UTF-8 can hold it. Under a C locale a non-ASCII argument arrives with
    its bytes as surrogate escapes: those bytes are decoded as UTF-8 where they are
    UTF-8, and shown as \\xNN where they are not."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _shown(text: str) -> str:
    return "".join(
        c if c.isprintable() and c not in _ENCODED_IN_QUERY else quote(c, safe="")
        for c in storable(text)
    )
