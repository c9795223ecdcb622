"""The company's own name on its notices: `branding.toml` in the templates directory.

    company = "Example ApS"
    address = ["Vesterbrogade 1", "1620 Copenhagen V", "Denmark"]
    sender_name = "Example Billing"
    reply_to = "billing@example.com"
    payment_url = "https://billing.example.com/update?customer={customer_ref}"
    locale = "en-GB"

Every key may be left out. Each is checked when the file is read, so that a mistake
refuses `notify` (and `notify --check-templates`) before a notice is claimed, never a
notice at a time. A key the file does not know is refused too: a misspelt `reply_too`
would otherwise be ignored for good.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2.exceptions import SecurityError

from antaeus_cli.channels.email import checked_address, display_name_problem
from antaeus_cli.channels.port import Permanent
from antaeus_cli.errors import TemplatesError
from antaeus_cli.notify.formats import FALLBACK, known_locale
from antaeus_cli.notify.sandbox import read_inside

FILE = "branding.toml"
MAX_COMPANY = 80
MAX_ADDRESS_LINES = 6
MAX_LINE = 120
MAX_URL = 500
# What a payment_url may name, each written into the link percent-encoded.
URL_FIELDS = ("customer_id", "customer_ref", "invoice_id")
DEFAULT_COMPANY = "Billing"
_KEYS = ("company", "address", "sender_name", "reply_to", "payment_url", "locale")


@dataclass(frozen=True, slots=True)
class Branding:
    company: str = DEFAULT_COMPANY
    address: tuple[str, ...] = ()
    sender_name: str | None = None  # the From header's display name
    reply_to: str | None = None
    payment_url: str | None = None  # with {customer_id}, {customer_ref}, {invoice_id}
    locale: str = FALLBACK  # for customers who have none, or one no template is in

    def link(self, **values: object) -> str | None:
        """The payment-update link for these values; None when there is no template,
        or a value it names is unknown (no link is better than a wrong one)."""
        if self.payment_url is None:
            return None
        named = {name for _, name, _, _ in string.Formatter().parse(self.payment_url) if name}
        if any(values.get(name) is None for name in named):
            return None
        encoded = {name: quote(str(values[name]), safe="") for name in named}
        return self.payment_url.format_map(encoded)


def load(directory: Path | None, *, company: str | None = None) -> Branding:
    """The branding a templates directory gives (the defaults without one); `company`:
    the notify spec's `company=`, which the file may not contradict."""
    found: dict[str, Any] = {}
    where = FILE
    if directory is not None:
        where = str(directory / FILE)
        if os.path.lexists(directory / FILE):  # a dangling link too: it cannot be read
            found = _read(directory / FILE, directory)
    unknown = sorted(set(found) - set(_KEYS))
    if unknown:
        raise TemplatesError(f"{where}: unknown key {unknown[0]!r}: it takes {', '.join(_KEYS)}")
    named = _line(found, "company", where, MAX_COMPANY)
    if named is not None and company is not None and named != company:
        raise TemplatesError(
            f"{where}: company = {named!r}, but the notify spec says company={company!r}: "
            "name the company in one place"
        )
    return Branding(
        company=named or company or DEFAULT_COMPANY,
        address=_address(found, where),
        sender_name=_sender_name(found, where),
        reply_to=_reply_to(found, where),
        payment_url=_payment_url(found, where),
        locale=_locale(found, where),
    )


def _read(path: Path, directory: Path) -> dict[str, Any]:
    try:
        text = read_inside(path, directory.resolve(strict=True))
    except (SecurityError, OSError) as exc:
        raise TemplatesError(str(exc)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplatesError(f"{path}: not TOML: {exc}") from None


def _line(found: dict[str, Any], key: str, where: str, limit: int) -> str | None:
    value = found.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TemplatesError(f"{where}: {key} must be a string")
    if any(not ch.isprintable() for ch in value):
        raise TemplatesError(f"{where}: {key} holds a control character or a line break")
    text = " ".join(value.split())
    if not text or len(text) > limit:
        raise TemplatesError(f"{where}: {key} must be 1 to {limit} characters")
    return text


def _address(found: dict[str, Any], where: str) -> tuple[str, ...]:
    value = found.get("address")
    if value is None:
        return ()
    lines = value.splitlines() if isinstance(value, str) else value
    if not isinstance(lines, list) or len(lines) > MAX_ADDRESS_LINES:
        raise TemplatesError(
            f"{where}: address must be a list of at most {MAX_ADDRESS_LINES} lines"
        )
    return tuple(
        _line({"address": line}, "address", where, MAX_LINE) or "" for line in lines if line
    )


def _sender_name(found: dict[str, Any], where: str) -> str | None:
    name = _line(found, "sender_name", where, 64)
    if name is not None:
        problem = display_name_problem(name)
        if problem is not None:
            raise TemplatesError(f"{where}: sender_name {problem}")
    return name


def _reply_to(found: dict[str, Any], where: str) -> str | None:
    address = _line(found, "reply_to", where, 254)
    if address is None:
        return None
    try:
        return checked_address(address, "reply_to")
    except Permanent as exc:
        raise TemplatesError(f"{where}: {exc}") from None


def _payment_url(found: dict[str, Any], where: str) -> str | None:
    url = _line(found, "payment_url", where, MAX_URL)
    if url is None:
        return None
    try:
        fields = list(string.Formatter().parse(url))
    except ValueError as exc:
        raise TemplatesError(
            f"{where}: payment_url: {exc} (write a brace as {{{{ or }}}})"
        ) from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in URL_FIELDS or spec or conversion:
            raise TemplatesError(
                f"{where}: payment_url names {{{name}}}: it may name "
                + ", ".join(f"{{{field}}}" for field in URL_FIELDS)
            )
    if re.search(r"%(?![0-9A-Fa-f]{2})", url):
        raise TemplatesError(f"{where}: payment_url has a '%' that starts no escape (%2F)")
    authority = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]
    if any(ch in authority for ch in "{}@") or "\\" in url:
        raise TemplatesError(
            f"{where}: payment_url must name its host itself, with no user and no field in it "
            "(a field goes in the path or the query) and no backslash"
        )
    sample = url.format_map(dict.fromkeys(URL_FIELDS, "1"))
    try:
        parts = urlsplit(sample)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme != "https"
        or not parts.hostname
        or " " in sample
    ):
        raise TemplatesError(
            f"{where}: payment_url must be an https:// link to a host (customers open it "
            "from their mail)"
        )
    return url


def _locale(found: dict[str, Any], where: str) -> str:
    tag = _line(found, "locale", where, 35)
    if tag is None:
        return FALLBACK
    if known_locale(tag) is None:
        raise TemplatesError(
            f"{where}: locale {tag!r} is not a locale CLDR knows (a BCP 47 tag: en-GB, da-DK)"
        )
    return tag
