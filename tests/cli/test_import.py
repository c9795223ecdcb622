"""`antaeus import`: an upstream system's export into a production database, all or
nothing, idempotent on external_id, errors with their line numbers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.exit_codes import ExitCode
from tests.cli.test_cli import assert_one_line_error, run

CUSTOMERS = (
    "external_id,currency,provider_ref,email,timezone\n"
    "crm-1,EUR,cus_1,a@example.com,Europe/Berlin\n"
    "crm-2,USD,cus_2,b@example.com,\n"
)
INVOICES = (
    '{"external_id": "inv-1", "customer_external_id": "crm-1", "amount_minor": 1500, '
    '"currency": "EUR", "due_date": "2026-12-01"}\n'
    "\n"
    '{"external_id": "inv-0", "customer_external_id": "crm-1", "amount_minor": 1400, '
    '"currency": "EUR", "due_date": "2026-11-01", "status": "PAID", "paid_at": "2026-11-01"}\n'
)


@pytest.fixture
def db(runner: CliRunner, tmp_path: Path) -> Path:
    path = tmp_path / "prod.db"
    assert run(runner, path, "init")[0] == ExitCode.OK
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def imported(runner: CliRunner, db: Path, *args: str) -> dict[str, object]:
    code, out, err = run(runner, db, "import", *args, "--json")
    assert code == ExitCode.OK, err
    result: dict[str, object] = json.loads(out)
    return result


def test_the_same_export_twice_adds_nothing_the_second_time(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    customers = write(tmp_path, "customers.csv", CUSTOMERS)
    invoices = write(tmp_path, "invoices.jsonl", INVOICES)
    first = imported(runner, db, "customers", str(customers))
    assert (first["added"], first["applied"]) == (2, True)
    assert imported(runner, db, "invoices", str(invoices))["added"] == 2
    again = imported(runner, db, "customers", str(customers))
    assert (again["added"], again["unchanged"]) == (0, 2)
    assert imported(runner, db, "invoices", str(invoices))["unchanged"] == 2
    assert rows(db, "SELECT c.external_id, i.external_id, i.amount, i.status, i.paid_at "
                    "FROM invoice i JOIN customer c ON c.id = i.customer_id ORDER BY i.id") == [
        ("crm-1", "inv-1", 1500, "PENDING", None),
        ("crm-1", "inv-0", 1400, "PAID", "2026-11-01T00:00:00+00:00"),
    ]  # fmt: skip
    code, out, err = run(runner, db, "bill", "--as-of", "2026-12-01", "--dry-run", "--json")
    assert code == ExitCode.OK, err
    assert json.loads(out)["to_charge"][0]["amount_minor"] == 1500


def test_a_customer_s_contact_details_are_updated_its_currency_never(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)))
    moved = CUSTOMERS.replace("a@example.com,Europe/Berlin", "new@example.com,Europe/Paris")
    result = imported(runner, db, "customers", str(write(tmp_path, "c2.csv", moved)))
    assert (result["updated"], result["unchanged"]) == (1, 1)
    assert rows(db, "SELECT email, timezone FROM customer WHERE external_id = 'crm-1'") == [
        ("new@example.com", "Europe/Paris")
    ]
    recurrency = write(tmp_path, "c3.csv", CUSTOMERS.replace("crm-2,USD", "crm-2,EUR"))
    code, _, err = run(runner, db, "import", "customers", str(recurrency))
    assert code == ExitCode.USAGE
    assert "c3.csv:3: customer 'crm-2' is stored in USD, not EUR" in err


def test_a_customer_s_locale_is_stored_canonical_and_updated_as_their_contact_details(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    """Any spelling of a tag CLDR knows is stored in its canonical one; an empty cell is
    the company's locale; a later export changes it, or takes it away."""
    header = "external_id,currency,locale\n"
    first = write(tmp_path, "c.csv", header + "crm-1,EUR,da_dk\ncrm-2,SEK,\ncrm-3,GBP,en-GB\n")
    assert imported(runner, db, "customers", str(first))["added"] == 3
    locales = "SELECT external_id, locale FROM customer ORDER BY id"
    assert rows(db, locales) == [("crm-1", "da-DK"), ("crm-2", None), ("crm-3", "en-GB")]
    assert imported(runner, db, "customers", str(first))["unchanged"] == 3

    moved = write(tmp_path, "c2.csv", header + "crm-1,EUR,DE\ncrm-2,SEK,sv-SE\ncrm-3,GBP,\n")
    result = imported(runner, db, "customers", str(moved))
    assert (result["updated"], result["unchanged"]) == (3, 0)
    assert rows(db, locales) == [("crm-1", "de"), ("crm-2", "sv-SE"), ("crm-3", None)]

    jsonl = write(
        tmp_path,
        "c3.jsonl",
        '{"external_id": "crm-1", "currency": "EUR", "locale": "de"}\n'
        '{"external_id": "crm-2", "currency": "SEK", "locale": null}\n'
        '{"external_id": "crm-4", "currency": "CNY", "locale": "zh_CN"}\n',
    )
    result = imported(runner, db, "customers", str(jsonl))
    assert (result["added"], result["updated"], result["unchanged"]) == (1, 1, 1)
    assert rows(db, locales)[1:] == [("crm-2", None), ("crm-3", None), ("crm-4", "zh-Hans-CN")]


def test_a_locale_cldr_does_not_know_is_a_fault_of_its_line_and_imports_nothing(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    text = (
        "external_id,currency,locale\n"
        "crm-1,EUR,da-DK\n"
        "crm-2,EUR,xx-YY\n"
        "crm-3,EUR,../etc\n"
        "crm-4,EUR,und\n"
        "crm-5,EUR,en_US.UTF-8\n"
    )
    path = write(tmp_path, "c.csv", text)
    code, out, err = run(runner, db, "import", "customers", str(path), "--json")
    assert code == ExitCode.USAGE
    result = json.loads(out)
    assert (result["applied"], result["error_count"]) == (False, 4)
    assert [(e["line"], e["text"]) for e in result["errors"]] == [
        (3, "locale: 'xx-YY' is not a BCP 47 locale CLDR knows (e.g. da-DK, de)"),
        (4, "locale: '../etc' is not a BCP 47 locale CLDR knows (e.g. da-DK, de)"),
        (5, "locale: 'und' is not a BCP 47 locale CLDR knows (e.g. da-DK, de)"),
        (6, "locale: 'en_US.UTF-8' is not a BCP 47 locale CLDR knows (e.g. da-DK, de)"),
    ]
    assert rows(db, "SELECT count(*) FROM customer") == [(0,)]
    code, _, err = run(runner, db, "import", "customers", str(path))
    assert code == ExitCode.USAGE
    assert "c.csv:3: locale: 'xx-YY' is not a BCP 47 locale CLDR knows" in err


def test_one_bad_line_imports_nothing_and_every_fault_has_its_line(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)))
    bad = INVOICES + (
        '{"external_id": "inv-2", "customer_external_id": "crm-9", "amount_minor": 100, '
        '"currency": "EUR", "due_date": "2026-12-01"}\n'
        "not json\n"
        '{"external_id": "inv-3", "customer_external_id": "crm-2", "amount_minor": "12.50", '
        '"currency": "USD", "due_date": "2026-12-01"}\n'
    )
    path = write(tmp_path, "i.jsonl", bad)
    code, out, err = run(runner, db, "import", "invoices", str(path), "--json")
    assert code == ExitCode.USAGE
    result = json.loads(out)
    assert (result["applied"], result["error_count"]) == (False, 3)
    assert [e["line"] for e in result["errors"]] == [4, 5, 6]
    assert "no customer 'crm-9': import the customers first" in result["errors"][0]["text"]
    assert result["errors"][1]["text"].startswith("not JSON")
    assert "amount_minor: '12.50' is not a whole number" in result["errors"][2]["text"]
    assert err.strip().splitlines()[-1] == "antaeus: error: 3 records refused; nothing was imported"
    assert rows(db, "SELECT count(*) FROM invoice") == [(0,)]


def test_an_invoice_is_never_changed_by_an_import(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)))
    imported(runner, db, "invoices", str(write(tmp_path, "i.jsonl", INVOICES)))
    edited = write(tmp_path, "i2.jsonl", INVOICES.replace("1500", "9900"))
    code, _, err = run(runner, db, "import", "invoices", str(edited))
    assert code == ExitCode.USAGE
    assert "i2.jsonl:1: invoice 'inv-1' is stored as invoice 1 with other values" in err
    assert "void the old one ('antaeus void --invoice 1 --reason ...')" in err
    assert rows(db, "SELECT amount FROM invoice WHERE external_id = 'inv-1'") == [(1500,)]


def test_an_invoice_the_file_says_was_paid_outside_antaeus_is_never_silently_unchanged(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    """The upstream marks inv-1 PAID (a bank transfer) while it waits here to be
    charged: the import refuses, naming the way out, for the next pass would charge it.
    Once voided as it says, the same file imports as unchanged and nothing is charged."""
    imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)))
    imported(runner, db, "invoices", str(write(tmp_path, "i.jsonl", INVOICES)))
    paid = INVOICES.replace(
        '"due_date": "2026-12-01"}',
        '"due_date": "2026-12-01", "status": "PAID", "paid_at": "2026-12-02"}',
    )
    again = write(tmp_path, "i2.jsonl", paid)
    code, _, err = run(runner, db, "import", "invoices", str(again))
    assert code == ExitCode.USAGE
    assert "invoice 'inv-1' is PAID in the file and PENDING here (invoice 1)" in err
    assert "antaeus void --invoice 1" in err
    code, _, err = run(runner, db, "void", "--invoice", "1", "--reason", "paid by bank transfer")
    assert code == ExitCode.OK, err
    result = imported(runner, db, "invoices", str(again))
    assert (result["added"], result["unchanged"]) == (0, 2)
    code, out, err = run(runner, db, "bill", "--as-of", "2026-12-01", "--dry-run", "--json")
    assert code == ExitCode.OK, err
    assert json.loads(out)["invoices"] == []


def test_an_invoice_corrected_upstream_replaces_the_old_one_voided(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    """The way docs/importing.md gives: void the old invoice, import the corrected one
    under a new external_id; the export that still holds the old record imports as
    unchanged, and the next pass's dry run charges the corrected one alone."""
    imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)))
    imported(runner, db, "invoices", str(write(tmp_path, "i.jsonl", INVOICES)))
    code, _, err = run(runner, db, "void", "--invoice", "1", "--reason", "corrected as inv-1b")
    assert code == ExitCode.OK, err
    corrected = INVOICES + INVOICES.splitlines()[0].replace('"inv-1"', '"inv-1b"').replace(
        "1500", "1450"
    )
    result = imported(runner, db, "invoices", str(write(tmp_path, "i2.jsonl", corrected)))
    assert (result["added"], result["unchanged"]) == (1, 2)
    assert rows(db, "SELECT external_id, amount, status FROM invoice ORDER BY id") == [
        ("inv-1", 1500, "VOID"),
        ("inv-0", 1400, "PAID"),
        ("inv-1b", 1450, "PENDING"),
    ]
    code, out, err = run(runner, db, "bill", "--as-of", "2026-12-01", "--dry-run", "--json")
    assert code == ExitCode.OK, err
    preview = json.loads(out)
    assert [item["invoice_id"] for item in preview["invoices"]] == [3]
    assert preview["to_charge"][0]["amount_minor"] == 1450
    assert preview["needs_operator_count"] == 0


def test_a_dry_run_counts_and_writes_nothing(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    result = imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)),
                      "--dry-run")  # fmt: skip
    assert (result["added"], result["applied"], result["dry_run"]) == (2, False, True)
    assert rows(db, "SELECT count(*) FROM customer") == [(0,)]


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("c.csv", "external_id,currency,emial\n", "unknown columns ('emial')"),
        ("c.csv", "", "the CSV file is empty"),
        ("c.csv", "external_id,external_id\n", "names a column twice"),
        ("c.txt", CUSTOMERS, "cannot tell the format"),
        ("c.csv", "external_id,currency\nx,EUR\n".encode("utf-16").decode("latin-1"), "UTF-8"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_error(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
    name: str,
    content: str,
    fragment: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))
    code, _, err = run(runner, db, "import", "customers", str(path))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, fragment)
    assert rows(db, "SELECT count(*) FROM customer") == [(0,)]


def test_a_csv_row_with_too_many_or_too_few_cells_is_refused_by_line(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "c.csv", CUSTOMERS + "crm-3,EUR,cus_3,c@example.com,,extra\ncrm-4\n")
    code, _, err = run(runner, db, "import", "customers", str(path))
    assert code == ExitCode.USAGE
    assert "c.csv:4: 6 cells, the header has 5" in err
    assert "c.csv:5: fewer cells than the header's 5 columns" in err


def test_a_unicode_line_separator_inside_a_field_neither_splits_nor_shifts_a_record(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    customers = (
        "external_id,currency\r\n"
        "crm-1\x85x,EUR\r\n"  # NEL in a field: one record, on line 2
        "crm-2,EUR\r\n"
        "crm-3,XXX\r\n"  # refused: its line is 4
    )
    path = tmp_path / "c.csv"
    path.write_bytes(customers.encode())
    _, out, err = run(runner, db, "import", "customers", str(path), "--json")
    result = json.loads(out)
    assert result["records"] == 3, err
    assert [e["line"] for e in result["errors"]] == [4]
    lines = INVOICES.replace('"inv-1"', '"inv-1\u2028a"').replace('"crm-1"', '"crm-9"', 1)
    path = tmp_path / "i.jsonl"
    path.write_bytes(lines.encode())
    _, out, _ = run(runner, db, "import", "invoices", str(path), "--json")
    result = json.loads(out)
    assert result["records"] == 2
    assert [(e["line"], e["text"][:21]) for e in result["errors"]] == [
        (1, "customer_external_id:"),
        (3, "customer_external_id:"),
    ]


def test_bytes_that_are_not_utf_8_are_named_by_their_line(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(CUSTOMERS.encode() + "crm-3,EUR,,m\xfcller@example.com,\n".encode("latin-1"))
    code, _, err = run(runner, db, "import", "customers", str(path))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "is not UTF-8 (line 4)")


def test_a_json_object_naming_a_member_twice_is_refused(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)))
    twice = INVOICES.replace('"due_date": "2026-12-01"', '"due_date": "2026-12-01", '
                             '"due_date": "2027-01-01"')  # fmt: skip
    code, out, _ = run(runner, db, "import", "invoices", str(write(tmp_path, "i.jsonl", twice)),
                       "--json")  # fmt: skip
    assert code == ExitCode.USAGE
    assert json.loads(out)["errors"] == [
        {"line": 1, "text": "'due_date' appears twice in the object"}
    ]
    assert rows(db, "SELECT count(*) FROM invoice") == [(0,)]


def test_an_amount_too_long_to_be_a_number_is_a_refused_record(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    imported(runner, db, "customers", str(write(tmp_path, "c.csv", CUSTOMERS)))
    invoices = (
        "external_id,customer_external_id,amount_minor,currency,due_date\n"
        f"inv-1,crm-1,{'9' * 5000},EUR,2026-12-01\n"
    )
    code, _, err = run(runner, db, "import", "invoices", str(write(tmp_path, "i.csv", invoices)))
    assert code == ExitCode.USAGE, err
    assert "i.csv:2: amount_minor: '9999" in err


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_file_without_line_ends_is_refused_without_reading_it_whole(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
    fmt: str,
) -> None:
    """One line longer than any export writes (here 3 MB of one JSON string): refused
    by its line, read no further than the limit. /dev/zero would never end."""
    path = tmp_path / f"c.{fmt}"
    head = "external_id,currency\n" if fmt == "csv" else ""
    path.write_text(head + '{"external_id": "' + "x" * 3_000_000 + '"}\n')
    code, _, err = run(runner, db, "import", "customers", str(path))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, f"line {2 if fmt == 'csv' else 1} of ")
    assert "is longer than 1,000,000 characters" in err


def test_a_non_utf_8_byte_far_into_a_long_line_is_named_by_its_line(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"external_id,currency\nok,EUR\n" + b"y" * 200_000 + b"\xff,EUR\n")
    code, _, err = run(runner, db, "import", "customers", str(path))
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "is not UTF-8 (line 3)")


def test_an_external_id_twice_in_one_file_with_other_values_is_refused(
    runner: CliRunner,
    db: Path,
    tmp_path: Path,
) -> None:
    """Which of the two is right? The export cannot say; the same record twice is fine."""
    imported(runner, db, "customers", str(write(tmp_path, "c0.csv", CUSTOMERS)))
    twice = CUSTOMERS + "crm-3,EUR,,c@example.com,\ncrm-3,EUR,,c@example.com,\n"
    result = imported(runner, db, "customers", str(write(tmp_path, "c1.csv", twice)))
    assert (result["added"], result["unchanged"]) == (1, 3)
    for extra in (
        "crm-4,EUR,,d@example.com,\ncrm-4,EUR,,e@example.com,\n",  # added, then other
        "crm-1,EUR,cus_9,a@example.com,\ncrm-1,EUR,cus_8,a@example.com,\n",  # updated twice
    ):
        path = write(tmp_path, "c2.csv", CUSTOMERS + extra)
        code, out, _ = run(runner, db, "import", "customers", str(path), "--json")
        assert code == ExitCode.USAGE
        (error,) = json.loads(out)["errors"]
        assert error["line"] == 5
        assert "appears more than once in this file, with other values" in error["text"]
    assert rows(db, "SELECT provider_ref FROM customer WHERE external_id = 'crm-1'") == [("cus_1",)]
    assert rows(db, "SELECT count(*) FROM customer WHERE external_id = 'crm-4'") == [(0,)]
    twice = INVOICES + INVOICES.splitlines()[0].replace("1500", "1600") + "\n"
    code, out, _ = run(runner, db, "import", "invoices", str(write(tmp_path, "i.jsonl", twice)),
                       "--json")  # fmt: skip
    assert code == ExitCode.USAGE
    assert "appears more than once in this file" in json.loads(out)["errors"][0]["text"]


def test_a_demo_database_takes_no_import(
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    demo = tmp_path / "demo.db"
    assert run(runner, demo, "seed", "--customers", "0")[0] == ExitCode.OK
    code, _, err = run(
        runner, demo, "import", "customers", str(write(tmp_path, "c.csv", CUSTOMERS))
    )
    assert code == ExitCode.USAGE
    assert_one_line_error(err, "is a demo database (made by antaeus seed)")
    assert rows(demo, "SELECT count(*) FROM customer") == [(0,)]
