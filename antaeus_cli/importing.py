"""`antaeus import customers|invoices FILE`: load what an upstream system exported.

CSV (a header row names the columns) or JSON Lines (one object per line). Every
record is checked (`domain.imported`) and matched by its `external_id`: a new one is
added, one stored with the same values is left alone, and a customer's contact
details (`provider_ref`, `email`, `timezone`, `locale`) are updated. An invoice is
never changed by an import, nor a customer's currency: those differences are errors.
All or nothing: the file is applied in one transaction, and any error, on any line,
leaves the database as it was. A dry run does the same and always rolls back.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from antaeus_cli.domain import imported
from antaeus_cli.domain.purpose import Purpose
from antaeus_cli.domain.words import counted
from antaeus_cli.errors import InputError
from antaeus_cli.store.database import Store
from antaeus_cli.store.imports import ImportWork

Kind = Literal["customers", "invoices"]
Format = Literal["csv", "jsonl"]
SHOWN_ERRORS = 20
MAX_LINE = 1_000_000  # characters; a CSV field holds at most 131,072 (csv's limit)


@dataclass(slots=True)
class ImportResult:
    kind: Kind
    path: Path
    dry_run: bool
    records: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, text), the first few
    error_count: int = 0

    @property
    def applied(self) -> bool:
        return not self.dry_run and self.error_count == 0

    def refuse(self, line: int, text: str) -> None:
        """A record refused: by its rules, or a line that is not a record at all."""
        self.error_count += 1
        if len(self.errors) < SHOWN_ERRORS:
            self.errors.append((line, text))


def format_of(path: Path, given: Format | None) -> Format:
    if given is not None:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(f"cannot tell the format of '{path}' from its name: pass --format csv|jsonl")


def import_file(
    store: Store, kind: Kind, path: Path, *, fmt: Format, dry_run: bool, now: datetime
) -> ImportResult:
    if store.purpose is Purpose.DEMO:
        raise InputError(
            f"'{store.path}' is a demo database (made by antaeus seed), which bills through "
            "the simulator: import real customers and invoices into a database made by "
            "'antaeus init'"
        )
    result = ImportResult(kind, path, dry_run)
    apply = _customer if kind == "customers" else _invoice
    stamp = now.isoformat()
    with store.imports(lambda: _keep(result)) as rows:
        columns = imported.CUSTOMER_COLUMNS if kind == "customers" else imported.INVOICE_COLUMNS
        file = _ThisFile(rows.next_id("customer" if kind == "customers" else "invoice"))
        for line, record in _records(path, fmt, result, columns):
            result.records += 1
            try:
                apply(rows, record, result, stamp, file)
            except imported.Refused as refused:
                result.refuse(line, str(refused))
            except _Conflict as conflict:
                result.refuse(line, str(conflict))
    return result


def _keep(result: ImportResult) -> bool:
    return not result.dry_run and result.error_count == 0


class _Conflict(Exception):
    """A record that matches a stored row it may not change."""


@dataclass(slots=True)
class _ThisFile:
    """Which rows this file wrote so far: those added (their ids from `first_new` on,
    as SQLite gives them) and the customers updated. A record that meets one of them
    with other values names its external_id twice in the file: which is right?"""

    first_new: int
    updated: set[int] = field(default_factory=set)

    def wrote(self, row_id: int) -> bool:
        return row_id >= self.first_new or row_id in self.updated


def _twice(external_id: str) -> _Conflict:
    return _Conflict(
        f"external_id {external_id!r} appears more than once in this file, with other "
        "values: which is right? Correct the export"
    )


def _customer(
    rows: ImportWork, record: dict[str, Any], result: ImportResult, _: str,
    file: _ThisFile,
) -> None:  # fmt: skip
    row = imported.customer(record)
    stored = rows.customer(row.external_id)
    if stored is None:
        rows.add_customer(row)
        result.added += 1
        return
    customer_id, currency, *contact = stored
    given = [row.provider_ref, row.email, row.timezone, row.locale]
    same = currency == row.currency and contact == given
    if not same and file.wrote(customer_id):
        raise _twice(row.external_id)
    if currency != row.currency:
        raise _Conflict(
            f"customer {row.external_id!r} is stored in {currency}, not {row.currency}: an "
            "import never changes a customer's currency"
        )
    if contact == given:
        result.unchanged += 1
        return
    rows.update_customer(customer_id, row)
    file.updated.add(customer_id)
    result.updated += 1


def _invoice(
    rows: ImportWork, record: dict[str, Any], result: ImportResult, now: str,
    file: _ThisFile,
) -> None:  # fmt: skip
    row = imported.invoice(record, today=datetime.fromisoformat(now).date())
    owner = rows.customer(row.customer_external_id)
    if owner is None:
        raise _Conflict(
            f"customer_external_id: no customer {row.customer_external_id!r}: import the "
            "customers first"
        )
    stored = rows.invoice(row.external_id)
    if stored is None:
        rows.add_invoice(owner[0], row, now)
        result.added += 1
        return
    same = (
        stored[1] == owner[0]
        and stored[2] == row.amount_minor
        and stored[3] == row.currency
        and stored[4] == row.due_date.isoformat()
    )
    if not same and file.wrote(stored[0]):
        raise _twice(row.external_id)
    if not same:
        raise _Conflict(
            f"invoice {row.external_id!r} is stored as invoice {stored[0]} with other values "
            f"(amount {stored[2]} {stored[3]}, due {stored[4]}): an import never changes an "
            "invoice; correct it upstream under a new external_id, and void the old one "
            f"('antaeus void --invoice {stored[0]} --reason ...') unless it was charged"
        )
    if row.status == "PAID" and stored[5] not in ("PAID", "VOID"):
        # Paid outside antaeus (a bank transfer, say) while it waits here to be charged:
        # never silence, since a pass would charge it. Voided as this says, it is
        # unchanged: no pass charges it. So is a PENDING record of an invoice antaeus
        # has charged or voided since: the upstream does not know.
        raise _Conflict(
            f"invoice {row.external_id!r} is PAID in the file and {str(stored[5])[:20]} here "
            f"(invoice {stored[0]}): an import never changes an invoice's status; if it was "
            f"paid outside antaeus, void it ('antaeus void --invoice {stored[0]} --reason "
            '"paid by bank transfer"\') so that no pass charges it, then import again'
        )
    result.unchanged += 1


def _records(
    path: Path, fmt: Format, result: ImportResult, columns: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each record with the line it starts on; a line that is not a record is refused.

    Lines end at a line feed, a carriage return or both, as the file system's tools
    count them; never at a Unicode line separator (U+2028, U+0085, a form feed), which
    may stand inside a field or a JSON string."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read '{path}': {exc.strerror}") from None
    with handle:
        text = io.TextIOWrapper(
            handle, encoding="utf-8-sig", errors="strict", newline="" if fmt == "csv" else None
        )
        lines = _bounded(text, path)
        try:
            yield from _csv(lines, result, columns) if fmt == "csv" else _jsonl(lines, result)
        except UnicodeDecodeError:
            raise InputError(
                f"'{path}' is not UTF-8 (line {_undecodable_line(path)}): export it as UTF-8"
            ) from None
        except csv.Error as exc:
            raise InputError(f"'{path}' is not readable CSV: {exc}") from None


def _bounded(text: io.TextIOWrapper, path: Path) -> Iterator[str]:
    """The file's lines, each read to at most MAX_LINE characters: a file with no line
    end (a device such as /dev/zero, a binary file) is refused, not read into memory."""
    number = 0
    while line := text.readline(MAX_LINE):
        number += 1
        if len(line) >= MAX_LINE and not line.endswith(("\n", "\r")):
            raise InputError(
                f"line {number} of '{path}' is longer than {MAX_LINE:,} "
                "characters: is it an export of customers or invoices?"
            )
        yield line


def _undecodable_line(path: Path) -> int:
    """The line of the first bytes that are not UTF-8, read in chunks (a line may be
    longer than memory allows)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 16):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: max(0, exc.start)].count(b"\n")
            line += chunk.count(b"\n")
    return line


def _csv(
    text: Any, result: ImportResult, columns: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text, strict=True)
    header = reader.fieldnames
    if not header:
        raise InputError("the CSV file is empty: it needs a header row naming the columns")
    if len(set(header)) != len(header):
        raise InputError("the CSV header names a column twice")
    unknown = [name for name in header if name not in columns]
    if unknown:
        raise InputError(
            f"the CSV header names unknown columns ({', '.join(map(repr, unknown[:5]))}): "
            f"the columns are {', '.join(columns)}"
        )
    start = reader.line_num + 1
    for record in reader:
        if None in record:  # more cells than the header has columns
            result.records += 1
            result.refuse(
                start, f"{len(header) + len(record[None])} cells, the header has {len(header)}"
            )
        elif any(v is None for v in record.values()):
            result.records += 1
            result.refuse(start, f"fewer cells than the header's {counted(len(header), 'column')}")
        else:
            yield start, record
        start = reader.line_num + 1


def _jsonl(text: Any, result: ImportResult) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=_each_name_once)
        except _NamedTwice as twice:
            result.refuse(number, f"{_shown_name(twice.name)} appears twice in the object")
            continue
        except ValueError as exc:
            result.records += 1
            result.refuse(number, f"not JSON: {exc}")
            continue
        if not isinstance(record, dict):
            result.records += 1
            result.refuse(number, "expected a JSON object")
            continue
        yield number, record


class _NamedTwice(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _each_name_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a member twice: which value was meant?"""
    record: dict[str, Any] = {}
    for name, value in pairs:
        if name in record:
            raise _NamedTwice(name)
        record[name] = value
    return record


def _shown_name(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:40] + "...")
