"""Scenario files (fixtures/*.json): strict about shape and types, lenient about values.

A fixture may hold anything the schema accepts, including invoices a billing pass
must refuse (an unknown currency, a zero amount): fixtures stand in for the
upstream system that writes invoices. What the schema cannot hold (a float
amount, a missing field, a dangling customer id) is refused with the exact spot.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from antaeus_cli.channels.email import checked_address
from antaeus_cli.channels.port import Permanent
from antaeus_cli.domain.clock import zone_named
from antaeus_cli.domain.dates import parse_iso_date
from antaeus_cli.domain.invoice import MAX_REF_LENGTH, is_customer_ref
from antaeus_cli.domain.locales import parse_locale
from antaeus_cli.errors import FixtureError
from antaeus_cli.provider.sim_ledger import Account
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice

INT64_MAX = 2**63 - 1
MAX_FIXTURE_BYTES = 50_000_000
_TOP = {"description", "customers", "invoices"}
_CUSTOMER = {"id", "currency", "account", "provider_ref", "email", "timezone", "locale"}
_ACCOUNT = {"currency", "balance"}
_INVOICE = {
    "id",
    "customer_id",
    "amount",
    "currency",
    "due_date",
    "status",
    "decline_count",
    "next_retry_on",
}
_STATUSES = ("PENDING", "PAID", "FAILED")


def load_fixture(path: Path) -> Scenario:
    try:
        if path.stat().st_size > MAX_FIXTURE_BYTES:
            raise FixtureError(f"{path}: larger than {MAX_FIXTURE_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"fixture '{path}' not found: see fixtures/ for examples") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"cannot read fixture '{path}': {exc}") from None
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise FixtureError(f"{path}: nested too deeply to be a fixture") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise FixtureError(f"{path}: {str(exc)[:120]}") from None
    return parse_fixture(data, str(path))


def parse_fixture(data: object, where: str) -> Scenario:
    top = _object(data, where, required={"customers", "invoices"}, allowed=_TOP)
    description = top.get("description", "")
    if not isinstance(description, str):
        raise FixtureError(f"{where}: description must be a string")
    _encodable(description, f"{where}: description")
    customers = [
        _customer(item, f"{where}: customers[{i}]")
        for i, item in enumerate(_list(top["customers"], f"{where}: customers"))
    ]
    _unique([c.id for c in customers], f"{where}: customers", "id")
    known = {c.id for c in customers}
    invoices = [
        _invoice(item, f"{where}: invoices[{i}]", known)
        for i, item in enumerate(_list(top["invoices"], f"{where}: invoices"))
    ]
    _unique([i.id for i in invoices], f"{where}: invoices", "id")
    return Scenario.of(customers, invoices, description)


def _customer(data: object, where: str) -> SeedCustomer:
    obj = _object(data, where, required={"id", "currency"}, allowed=_CUSTOMER)
    cid = _int(obj, "id", where, low=1)
    currency = _str(obj, "currency", where)
    ref = None
    if obj.get("provider_ref") is not None:
        ref = _str(obj, "provider_ref", where)
        if not is_customer_ref(ref):
            raise FixtureError(
                f"{where}.provider_ref: expected the provider's customer id (such as "
                f"'cus_...'): 1 to {MAX_REF_LENGTH} printable ASCII characters, no spaces"
            )
    email, zone = _email(obj, where), _zone(obj, where)
    if "account" not in obj:
        funds: Account | None = Account(cid, currency, 1_000_000_00)
    elif obj["account"] is None:
        funds = None
    else:
        account = _object(obj["account"], f"{where}.account", required=_ACCOUNT, allowed=_ACCOUNT)
        balance = _int(account, "balance", f"{where}.account", low=0)
        funds = Account(cid, _str(account, "currency", where), balance)
    return SeedCustomer(cid, currency, funds, ref, email, zone, _locale(obj, where))


def _zone(obj: dict[str, object], where: str) -> str | None:
    if obj.get("timezone") is None:
        return None
    text = _str(obj, "timezone", where)
    if zone_named(text) is None:  # exactly as it will be stored: no space is stripped
        raise FixtureError(
            f"{where}.timezone: unknown time zone {text!r}: expected an IANA name such as "
            "Europe/Copenhagen or America/Los_Angeles"
        )
    return text


def _locale(obj: dict[str, object], where: str) -> str | None:
    """A tag CLDR knows, in its canonical spelling (`da_dk` is stored as `da-DK`)."""
    if obj.get("locale") is None:
        return None
    text = _str(obj, "locale", where)
    canonical = parse_locale(text)
    if canonical is None:
        raise FixtureError(
            f"{where}.locale: unknown locale {text[:40]!r}: expected a BCP 47 tag CLDR knows, "
            "such as da-DK, de or sv-SE"
        )
    return canonical


def _email(obj: dict[str, object], where: str) -> str | None:
    if obj.get("email") is None:
        return None
    text = _str(obj, "email", where)
    try:
        return checked_address(text)
    except Permanent as exc:
        raise FixtureError(f"{where}.email: {exc}") from None


def _invoice(data: object, where: str, customers: set[int]) -> SeedInvoice:
    required = {"id", "customer_id", "amount", "currency", "due_date"}
    obj = _object(data, where, required=required, allowed=_INVOICE)
    customer_id = _int(obj, "customer_id", where, low=1)
    if customer_id not in customers:
        raise FixtureError(f"{where}.customer_id: no customer {customer_id} in this file")
    status = obj.get("status", "PENDING")
    if status not in _STATUSES:
        raise FixtureError(f"{where}.status must be one of {', '.join(_STATUSES)}, got {status!r}")
    retry_on = _date(obj, "next_retry_on", where) if "next_retry_on" in obj else None
    if (status == "FAILED") != (retry_on is not None):
        raise FixtureError(f"{where}: next_retry_on is required for FAILED invoices, and only them")
    declines = _int(obj, "decline_count", where, low=0) if "decline_count" in obj else 0
    if status == "FAILED" and declines < 1:
        raise FixtureError(f"{where}.decline_count must be at least 1 for a FAILED invoice")
    return SeedInvoice(
        id=_int(obj, "id", where, low=1),
        customer_id=customer_id,
        amount=_int(obj, "amount", where, low=-INT64_MAX),
        currency=_str(obj, "currency", where),
        due_date=_date(obj, "due_date", where),
        status=str(status),
        decline_count=declines,
        next_retry_on=retry_on,
    )


def _object(data: object, where: str, *, required: set[str], allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FixtureError(f"{where} must be an object, got {_kind(data)}")
    missing = sorted(required - data.keys())
    if missing:
        raise FixtureError(f"{where}: missing {', '.join(missing)}")
    extra = sorted(data.keys() - allowed)
    if extra:
        raise FixtureError(
            f"{where}: unknown field {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    return data


def _list(data: object, where: str) -> list[object]:
    if not isinstance(data, list):
        raise FixtureError(f"{where} must be a list, got {_kind(data)}")
    return data


def _int(obj: dict[str, Any], name: str, where: str, *, low: int) -> int:
    value = obj[name]
    if type(value) is not int:
        raise FixtureError(f"{where}.{name} must be a whole number, got {_kind(value)} {value!r}")
    if not low <= value <= INT64_MAX:
        raise FixtureError(f"{where}.{name} must be between {low} and {INT64_MAX}, got {value}")
    return value


def _str(obj: dict[str, Any], name: str, where: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise FixtureError(f"{where}.{name} must be a string, got {_kind(value)} {value!r}")
    _encodable(value, f"{where}.{name}")
    return value


def _encodable(text: str, where: str) -> None:
    """JSON may escape a lone surrogate (\\ud800), which no database text can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FixtureError(f"{where} holds a lone surrogate, which is not text") from None


def _date(obj: dict[str, Any], name: str, where: str) -> date:
    text = _str(obj, name, where)
    try:
        return parse_iso_date(text)
    except ValueError as exc:
        raise FixtureError(f"{where}.{name}: {exc}") from None


def _unique(ids: list[int], where: str, field: str) -> None:
    seen: set[int] = set()
    for value in ids:
        if value in seen:
            raise FixtureError(f"{where}: {field} {value} appears twice")
        seen.add(value)


def _kind(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
        float: "a number with a fraction",
        int: "a number",
    }.get(type(value), type(value).__name__)
