"""Each column's rule for imported customers and invoices, in both formats' values."""

from __future__ import annotations

from datetime import date

import pytest

from antaeus_cli.domain.imported import CustomerRow, InvoiceRow, Refused, customer, invoice
from antaeus_cli.domain.money import CURRENCIES

GOOD_CUSTOMER = {"external_id": "crm-1", "currency": "EUR", "provider_ref": "cus_1",
                 "email": "a@example.com", "timezone": "Europe/Berlin"}  # fmt: skip
GOOD_INVOICE = {"external_id": "inv-1", "customer_external_id": "crm-1",
                "amount_minor": "1250", "currency": "EUR", "due_date": "2026-12-01"}  # fmt: skip


def test_a_good_customer_and_invoice_read_as_rows() -> None:
    assert customer(GOOD_CUSTOMER) == CustomerRow(
        "crm-1", "EUR", "cus_1", "a@example.com", "Europe/Berlin"
    )
    assert customer({"external_id": 7, "currency": "USD", "email": ""}) == CustomerRow(
        "7", "USD", None, None, None, None
    )
    assert invoice(GOOD_INVOICE) == InvoiceRow(
        "inv-1", "crm-1", 1250, "EUR", date(2026, 12, 1), "PENDING", None
    )
    paid = invoice(
        {**GOOD_INVOICE, "amount_minor": 1250, "status": "PAID", "paid_at": "2026-12-02"}
    )
    assert (paid.status, paid.paid_at) == ("PAID", date(2026, 12, 2))


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"external_id": ""}, "external_id: required"),
        ({"external_id": None}, "external_id: required"),
        ({"external_id": True}, "external_id: expected text"),
        ({"external_id": "x" * 201}, "external_id: at most 200 characters"),
        ({"external_id": "a\x00b"}, "external_id: at most 200 characters, with no control"),
        ({"currency": "eur"}, "currency: 'eur' is in lower case: write EUR"),
        ({"currency": "DEM"}, "currency: 'DEM' is not an ISO 4217 currency in use"),
        ({"currency": None}, "currency: required"),
        ({"provider_ref": "cus 1"}, "provider_ref: 'cus 1' is not a valid provider ref"),
        ({"email": "nobody"}, "email: 'nobody' is not a valid email"),
        ({"email": 5}, "email: '5' is not a valid email"),
        ({"email": "\x1b[31mred@example.com"}, "email: '\\x1b[31mred@example.com' is not"),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a known IANA zone"),
        ({"locale": "xx-YY"}, "locale: 'xx-YY' is not a BCP 47 locale CLDR knows (e.g. da-DK"),
        ({"locale": "../x"}, "locale: '../x' is not a BCP 47 locale CLDR knows"),
        ({"locale": "und"}, "locale: 'und' is not a BCP 47 locale CLDR knows"),
        ({"locale": "POSIX"}, "locale: 'POSIX' is not a BCP 47 locale CLDR knows"),
        ({"locale": "en-US-x-private"}, "locale: 'en-US-x-private' is not a BCP 47 locale"),
        ({"locale": "da DK"}, "locale: 'da DK' is not a valid locale"),
        ({"locale": "da\x00DK"}, "locale: 'da\\x00DK' is not a valid locale"),
        ({"locale": "d\u00e9"}, "locale: 'd\u00e9' is not a valid locale"),
        ({"locale": "da-DK" * 50}, "locale: 'da-DKda-DK"),
        ({"locale": 45}, "locale: '45' is not a valid locale"),
        ({"colour": "red"}, "unknown column 'colour': the columns are external_id, currency"),
    ],
)
def test_a_bad_customer_column_is_named(change: dict[str, object], fault: str) -> None:
    with pytest.raises(Refused) as refused:
        customer({**GOOD_CUSTOMER, **change})
    assert any(f.startswith(fault) for f in refused.value.faults), refused.value.faults


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"amount_minor": "12.50"}, "amount_minor: '12.50' is not a whole number"),
        ({"amount_minor": 12.5}, "amount_minor: '12.5' is not a whole number"),
        ({"amount_minor": "0"}, "amount_minor: '0' is not a whole number of minor units from 1"),
        ({"amount_minor": "-5"}, "amount_minor: '-5' is not"),
        ({"amount_minor": "10000000001"}, "amount_minor: '10000000001' is not"),
        ({"amount_minor": True}, "amount_minor: 'True' is not"),
        ({"amount_minor": "9" * 5000}, "amount_minor: '99999"),  # past int()'s digit limit
        ({"amount_minor": ""}, "amount_minor: required"),
        ({"due_date": "2026-13-01"}, "due_date: expected a date like 2026-11-01"),
        ({"due_date": 20261201}, "due_date: expected a date like 2026-12-01"),
        ({"due_date": None}, "due_date: required"),
        ({"customer_external_id": ""}, "customer_external_id: required"),
        ({"status": "FAILED"}, "status: 'FAILED' cannot be imported"),
        ({"status": "PAID"}, "paid_at: a PAID invoice needs the date it was paid"),
        ({"paid_at": "2026-12-01"}, "paid_at: a PENDING invoice has not been paid"),
        ({"status": "PAID", "paid_at": "yesterday"}, "paid_at: expected a date"),
    ],
)
def test_a_bad_invoice_column_is_named(change: dict[str, object], fault: str) -> None:
    with pytest.raises(Refused) as refused:
        invoice({**GOOD_INVOICE, **change})
    assert any(f.startswith(fault) for f in refused.value.faults), refused.value.faults


@pytest.mark.parametrize(
    ("given", "stored"),
    [("da-DK", "da-DK"), ("da_dk", "da-DK"), (" SV-se ", "sv-SE"), ("de", "de"),
     ("zh-TW", "zh-Hant-TW"), ("", None), ("  ", None), (None, None)],
)  # fmt: skip
def test_a_customer_s_locale_is_stored_canonical_and_empty_is_the_company_s(
    given: str | None, stored: str | None
) -> None:
    assert customer({**GOOD_CUSTOMER, "locale": given}).locale == stored
    assert customer(GOOD_CUSTOMER).locale is None  # no locale column at all


def test_every_fault_of_a_record_is_named_at_once() -> None:
    with pytest.raises(Refused) as refused:
        invoice({"external_id": "", "amount_minor": "x", "currency": "XXX", "due_date": ""})
    assert [f.split(":")[0] for f in refused.value.faults] == [
        "external_id", "customer_external_id", "amount_minor", "currency", "due_date",
    ]  # fmt: skip


def _schema_accepts(name: str, record: dict[str, object]) -> bool:
    import json
    from importlib import resources

    from jsonschema import Draft202012Validator

    text = resources.files("antaeus_cli").joinpath(f"schemas/{name}.schema.json").read_text()
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema).is_valid(record)


def _rule_accepts(check: object, record: dict[str, object]) -> bool:
    try:
        check(record)  # type: ignore[operator]
    except Refused:
        return False
    return True


@pytest.mark.parametrize(
    "change",
    [{}, {"external_id": 7}, {"email": None}, {"provider_ref": ""}, {"currency": "DEM"},
     {"currency": "NOK"}, {"external_id": ""}, {"colour": "red"}, {"provider_ref": "cus 1"},
     {"email": "x"}, {"currency": None}, {"external_id": "x" * 201},
     {"email": "a\x07@example.com"}, {"locale": "da_DK"}, {"locale": "zh-hant-TW"},
     {"locale": ""}, {"locale": None}, {"locale": "../x"}, {"locale": "da-DK\x00"},
     {"locale": "C.UTF-8"}, {"locale": "de@euro"}, {"locale": "en-" + "US-" * 11 + "US"},
     {"locale": 45}],
)  # fmt: skip
def test_the_published_customer_schema_agrees_with_the_rule(change: dict[str, object]) -> None:
    record = {k: v for k, v in {**GOOD_CUSTOMER, **change}.items() if v is not None}
    record.update({k: None for k, v in change.items() if v is None and k != "currency"})
    assert _schema_accepts("import-customer", record) == _rule_accepts(customer, record)


@pytest.mark.parametrize(
    "change",
    [{}, {"amount_minor": 1250}, {"amount_minor": "12.50"}, {"amount_minor": 0},
     {"amount_minor": 12.5}, {"status": "PAID", "paid_at": "2026-12-02"}, {"status": "FAILED"},
     {"amount_minor": "0"}, {"amount_minor": "99999999999"}, {"amount_minor": "10000000000"},
     {"due_date": "1 Dec 2026"}, {"customer_external_id": ""}, {"note": "x"}],
)  # fmt: skip
def test_the_published_invoice_schema_agrees_with_the_rule(change: dict[str, object]) -> None:
    record = {**GOOD_INVOICE, **change}
    assert _schema_accepts("import-invoice", record) == _rule_accepts(invoice, record)


def test_an_invoice_paid_in_the_future_is_refused() -> None:
    record = {**GOOD_INVOICE, "status": "PAID", "paid_at": "2026-12-08"}
    assert invoice(record, today=date(2026, 12, 8)).paid_at == date(2026, 12, 8)
    with pytest.raises(Refused) as refused:
        invoice(record, today=date(2026, 12, 7))
    assert refused.value.faults == ["paid_at: 2026-12-08 has not come yet"]


@pytest.mark.parametrize("name", ["import-customer", "import-invoice"])
def test_the_published_schemas_name_every_currency_the_rule_takes(name: str) -> None:
    import json
    from importlib import resources

    text = resources.files("antaeus_cli").joinpath(f"schemas/{name}.schema.json").read_text()
    assert json.loads(text)["properties"]["currency"]["enum"] == [str(c) for c in CURRENCIES]
