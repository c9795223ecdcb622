"""Customers and invoices as an upstream system exports them, checked before
`antaeus import` writes anything. Pure: a record in, a row or the reasons it is
refused out.

A record is a mapping of column names to text (a CSV cell) or JSON values (a JSON
Lines object). Each column's rule is stated once here, for both formats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from antaeus_cli.domain.clock import zone_named
from antaeus_cli.domain.dates import parse_iso_date
from antaeus_cli.domain.locales import parse_locale
from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency

MAX_ID = 200
MAX_EMAIL = 320
MAX_PROVIDER_REF = 255  # as the claim checks it (docs/schema.md)
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]+")
_ONE_WORD = re.compile(r"[!-~]+")  # printable ASCII, no space
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")  # no control characters
_WHOLE = re.compile(r"[0-9]+")
_MAX_DIGITS = 20  # more is no amount, and too long to read as a number at all

CUSTOMER_COLUMNS = ("external_id", "currency", "provider_ref", "email", "timezone", "locale")
INVOICE_COLUMNS = (
    "external_id",
    "customer_external_id",
    "amount_minor",
    "currency",
    "due_date",
    "status",
    "paid_at",
)
IMPORTABLE_STATUSES = ("PENDING", "PAID")


@dataclass(frozen=True, slots=True)
class CustomerRow:
    external_id: str
    currency: str
    provider_ref: str | None
    email: str | None
    timezone: str | None
    locale: str | None = None  # a canonical BCP 47 tag; None: the company's locale


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    external_id: str
    customer_external_id: str
    amount_minor: int
    currency: str
    due_date: date
    status: str
    paid_at: date | None


class Refused(ValueError):
    """The record's faults, each naming its column."""

    def __init__(self, faults: list[str]) -> None:
        super().__init__("; ".join(faults))
        self.faults = faults


def customer(record: Mapping[str, object]) -> CustomerRow:
    faults = _unknown(record, CUSTOMER_COLUMNS)
    external_id = _id(record, "external_id", faults)
    currency = _currency(record, faults)
    provider_ref = _optional(record, "provider_ref", _ONE_WORD, MAX_PROVIDER_REF, faults)
    email = _optional(record, "email", _EMAIL, MAX_EMAIL, faults)
    zone = _optional(record, "timezone", _ONE_WORD, MAX_ID, faults)
    if zone is not None and zone_named(zone) is None:
        faults.append(f"timezone: {_shown(zone)} is not a known IANA zone (e.g. Europe/Berlin)")
    tag = _optional(record, "locale", _ONE_WORD, MAX_ID, faults)
    locale = None if tag is None else parse_locale(tag)
    if tag is not None and locale is None:
        faults.append(f"locale: {_shown(tag)} is not a BCP 47 locale CLDR knows (e.g. da-DK, de)")
    if faults:
        raise Refused(faults)
    return CustomerRow(str(external_id), str(currency), provider_ref, email, zone, locale)


def invoice(record: Mapping[str, object], *, today: date | None = None) -> InvoiceRow:
    """`today`: the date it is in UTC, after which no invoice can have been paid."""
    faults = _unknown(record, INVOICE_COLUMNS)
    external_id = _id(record, "external_id", faults)
    owner = _id(record, "customer_external_id", faults)
    amount = _amount(record, faults)
    currency = _currency(record, faults)
    due = _date(record, "due_date", faults, required=True)
    status = _text(record, "status") or "PENDING"
    if status not in IMPORTABLE_STATUSES:
        faults.append(
            f"status: {_shown(status)} cannot be imported: PENDING (to be charged, the "
            "default) or PAID (history, which the amount guard reads)"
        )
    paid_at = _date(record, "paid_at", faults, required=False)
    if status == "PAID" and paid_at is None and "paid_at" not in " ".join(faults):
        faults.append("paid_at: a PAID invoice needs the date it was paid")
    if paid_at is not None and today is not None and paid_at > today:
        faults.append(f"paid_at: {paid_at.isoformat()} has not come yet")
    if status == "PENDING" and paid_at is not None:
        faults.append("paid_at: a PENDING invoice has not been paid")
    if faults:
        raise Refused(faults)
    assert due is not None  # noqa: S101 - required above
    return InvoiceRow(str(external_id), str(owner), int(amount or 0), str(currency), due,
                      status, paid_at)  # fmt: skip


def _unknown(record: Mapping[str, object], columns: tuple[str, ...]) -> list[str]:
    extra = sorted(str(name) for name in record if name not in columns)
    if not extra:
        return []
    return [
        f"unknown column {', '.join(_shown(name) for name in extra)}: the columns are "
        f"{', '.join(columns)}"
    ]


def _text(record: Mapping[str, object], column: str) -> str | None:
    """The value as text; None for a missing, empty or null one. A JSON value that is
    not a string (but for whole amounts) is left for the caller to refuse."""
    value = record.get(column)
    if value is None:
        return None
    if not isinstance(value, str):
        return str(value) if type(value) is int else repr(value)
    stripped = value.strip()
    return stripped or None


def _id(record: Mapping[str, object], column: str, faults: list[str]) -> str | None:
    value = record.get(column)
    text = _text(record, column)
    if text is None:
        faults.append(f"{column}: required")
    elif not isinstance(value, str | int) or isinstance(value, bool):
        faults.append(f"{column}: expected text")
    elif len(text) > MAX_ID or not _PRINTABLE.fullmatch(text):
        faults.append(f"{column}: at most {MAX_ID} characters, with no control characters")
    else:
        return text
    return None


def _optional(
    record: Mapping[str, object], column: str, pattern: re.Pattern[str], limit: int,
    faults: list[str],
) -> str | None:  # fmt: skip
    value = record.get(column)
    text = _text(record, column)
    if text is None:
        return None
    if not isinstance(value, str) or len(text) > limit or not pattern.fullmatch(text):
        faults.append(f"{column}: {_shown(text)} is not a valid {column.replace('_', ' ')}")
        return None
    return text


def _currency(record: Mapping[str, object], faults: list[str]) -> str | None:
    text = _text(record, "currency")
    if text is None:
        faults.append("currency: required")
        return None
    if Currency.parse(text) is None and Currency.parse(text.upper()) is not None:
        faults.append(f"currency: {_shown(text)} is in lower case: write {text.upper()}")
        return None
    if Currency.parse(text) is None:
        faults.append(f"currency: {_shown(text)} is not an ISO 4217 currency in use")
        return None
    return text


def _amount(record: Mapping[str, object], faults: list[str]) -> int | None:
    value = record.get("amount_minor")
    text = _text(record, "amount_minor")
    if text is None:
        faults.append("amount_minor: required, in minor units (1250 for 12.50)")
        return None
    whole = type(value) is int or (isinstance(value, str) and _WHOLE.fullmatch(text) is not None)
    if not whole or len(text) > _MAX_DIGITS or not 0 < int(text) <= MAX_CHARGE_MINOR:
        faults.append(
            f"amount_minor: {_shown(text)} is not a whole number of minor units from 1 to "
            f"{MAX_CHARGE_MINOR} (1250 for 12.50)"
        )
        return None
    return int(text)


def _date(
    record: Mapping[str, object], column: str, faults: list[str], *, required: bool
) -> date | None:
    value = record.get(column)
    text = _text(record, column)
    if text is None:
        if required:
            faults.append(f"{column}: required, as YYYY-MM-DD")
        return None
    if not isinstance(value, str):
        faults.append(f"{column}: expected a date like 2026-12-01")
        return None
    try:
        return parse_iso_date(text)
    except ValueError as exc:
        faults.append(f"{column}: {exc}")
        return None


def _shown(text: str) -> str:
    """A value quoted in a message: cut, with control characters escaped."""
    cut = text if len(text) <= 40 else text[:40] + "..."
    return repr(cut)
