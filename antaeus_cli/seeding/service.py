"""`seed`: build a database (and the simulated provider's books) beside the target,
then swap it in. A failed seed leaves the old files exactly as they were; a
replaced database is moved aside, never deleted."""

from __future__ import annotations

import contextlib
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from antaeus_cli.domain.purpose import Purpose
from antaeus_cli.errors import DatabaseExists, InputError, LockHeld
from antaeus_cli.provider.sim_ledger import SimLedger
from antaeus_cli.seeding.scenario import Scenario, SeedInvoice
from antaeus_cli.sqlite_files import stored_purpose, writers_held_off
from antaeus_cli.store import runs
from antaeus_cli.store.bulk import load_rows
from antaeus_cli.store.database import Store

_SIDE_FILES = ("-wal", "-shm")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SeedResult:
    db_path: Path
    ledger_path: Path | None
    description: str
    customers: int
    accounts: int
    invoices: dict[str, int]
    planted: dict[str, list[int]] = field(default_factory=dict)
    moved_aside: list[Path] = field(default_factory=list)


def seed(
    db_path: Path,
    scenario: Scenario,
    *,
    force: bool,
    ledger_path: Path | None,
    clock: Callable[[], datetime],
    is_alive: runs.Liveness,
) -> SeedResult:
    """Write `scenario` to `db_path`, and its accounts to the provider ledger if given."""
    now = clock()
    _check_targets(db_path, ledger_path)
    targets = [p for p in (db_path, ledger_path) if p is not None]
    existing = [p for p in targets if _lexists(p)]
    if existing and not force:
        raise DatabaseExists(
            f"'{existing[0]}' already exists: pass --force to replace it "
            "(the old file is kept beside it, renamed)"
        )
    with contextlib.ExitStack() as held:
        if db_path.exists():
            # from here until the new file is ready, nothing else writes to the old one
            held.enter_context(writers_held_off(db_path))
            _refuse_a_production_database(db_path)
            _refuse_if_a_pass_runs(db_path, now, is_alive)
        return _replace(db_path, ledger_path, scenario, now, existing=existing, release=held.close)


def _replace(
    db_path: Path,
    ledger_path: Path | None,
    scenario: Scenario,
    now: datetime,
    *,
    existing: list[Path],
    release: Callable[[], None],
) -> SeedResult:
    """The new files, staged beside the targets and then moved in; what was there is
    kept beside them, renamed. The old file's write lock is let go (`release`) just
    before: a connection held open across the rename would, closing, remove the -wal
    file by its name, which is then the new file's."""
    targets = [p for p in (db_path, ledger_path) if p is not None]
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    staged = {p: p.with_name(f".{p.name}.seeding-{os.getpid()}") for p in targets}
    for temp in staged.values():
        _remove_with_side_files(temp)
    by_status: Counter[str] = Counter()
    tally = Counter[str]()
    try:
        store = Store.create(staged[db_path], Purpose.DEMO)
        try:
            load_rows(
                store,
                (
                    (c.id, c.currency, c.provider_ref, c.email, c.timezone, c.locale or "")
                    for c in _counted(scenario.customers(), tally, "customers")
                ),
                _invoice_rows(scenario.invoices(), now.isoformat(), by_status),
            )
        finally:
            store.close()
        if ledger_path is not None:
            accounts = (c.account for c in scenario.customers() if c.account is not None)
            SimLedger.create(staged[ledger_path], _counted(accounts, tally, "accounts")).close()
    except BaseException:
        for temp in staged.values():
            _remove_with_side_files(temp)
        raise
    release()
    moved = [_move_aside(p, stamp) for p in existing]
    for target, temp in staged.items():
        os.replace(temp, target)
    return SeedResult(
        db_path=db_path,
        ledger_path=ledger_path,
        description=scenario.description,
        customers=tally["customers"],
        accounts=tally["accounts"],
        invoices=dict(sorted(by_status.items())),
        planted=scenario.planted,
        moved_aside=moved,
    )


@dataclass(frozen=True, slots=True)
class InitResult:
    db_path: Path


def init(db_path: Path) -> InitResult:
    """Create an empty production database at `db_path`, which must not exist: `init`
    never replaces a file, not even under a race with another `init` (the new file is
    linked into place, which fails if the name is taken)."""
    _check_targets(db_path, None, "init")
    if _lexists(db_path):
        raise DatabaseExists(
            f"'{db_path}' already exists: init never replaces a database; pass --db with a new path"
        )
    staged = db_path.with_name(f".{db_path.name}.init-{os.getpid()}")
    _remove_with_side_files(staged)
    try:
        Store.create(staged, Purpose.PRODUCTION).close()
        try:
            os.link(staged, db_path)
        except FileExistsError:
            raise DatabaseExists(
                f"'{db_path}' was created while init ran: init never replaces a database"
            ) from None
    finally:
        _remove_with_side_files(staged)
    return InitResult(db_path=db_path)


def _refuse_a_production_database(db_path: Path) -> None:
    """`seed --force` replaces a demo, never a production database (`antaeus init`):
    a demo in its place would charge nobody, or charge through the simulator, while
    every pass looked healthy. A file that is not ours, or records no purpose, is
    replaced as before (kept beside it, renamed)."""
    if stored_purpose(db_path) is Purpose.PRODUCTION:
        raise DatabaseExists(
            f"'{db_path}' is a production database (antaeus init): seed never replaces "
            "one, not even with --force; pass --db with another path for a demo"
        )


def _refuse_if_a_pass_runs(db_path: Path, now: datetime, is_alive: runs.Liveness) -> None:
    try:
        store = Store.open(db_path)
    except Exception:  # noqa: BLE001 - not a usable antaeus database: nothing can hold its lock
        return
    try:
        with store.view() as view:
            holder = view.lock_holder()
    finally:
        store.close()
    if holder is not None and holder.alive(now, is_alive):
        raise LockHeld(f"a billing pass is using '{db_path}' ({holder}): wait for it to finish")


_NOT_REGULAR = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def refuse_if_not_a_regular_file(path: Path, command: str = "seed") -> None:
    """Only a regular file is ever replaced: never a device such as /dev/null (even as
    root), a pipe, a directory, or a symbolic link (nor what it points at)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot inspect '{path}': {exc.strerror}") from None
    for test, kind in _NOT_REGULAR:
        if test(mode):
            raise InputError(
                f"'{path}' is {kind}, not a regular file: {command} never replaces it; "
                f"pass --db{' (or ledger=)' if command == 'seed' else ''} with a file path"
            )
    if not stat.S_ISREG(mode):
        raise InputError(f"'{path}' is not a regular file: {command} never replaces it")


def _check_targets(db_path: Path, ledger_path: Path | None, command: str = "seed") -> None:
    for target in (db_path, ledger_path):
        if target is not None:
            refuse_if_not_a_regular_file(target, command)
    if not db_path.parent.is_dir():
        raise InputError(
            f"directory '{db_path.parent}' does not exist: create it, or pass another --db"
        )
    if db_path.is_dir():
        raise InputError(f"'{db_path}' is a directory: pass --db with a file path")
    if ledger_path is not None and ledger_path.absolute() == db_path.absolute():
        raise InputError(
            f"the provider ledger and the database are the same file '{db_path}': "
            "pass ledger=PATH with another path"
        )
    if ledger_path is not None and not ledger_path.parent.is_dir():
        raise InputError(f"directory '{ledger_path.parent}' for the provider ledger does not exist")


def _move_aside(path: Path, stamp: str) -> Path:
    """Rename a file that is being replaced, with its WAL files, so nothing is lost."""
    aside = path.with_name(f"{path.name}.replaced-{stamp}")
    suffix = 1
    while any(Path(f"{aside}{s}").exists() for s in ("", *_SIDE_FILES)):
        aside = path.with_name(f"{path.name}.replaced-{stamp}-{suffix}")
        suffix += 1
    os.replace(path, aside)
    for side_suffix in _SIDE_FILES:
        side = Path(f"{path}{side_suffix}")
        if side.exists():
            os.replace(side, Path(f"{aside}{side_suffix}"))
    return aside


def _remove_with_side_files(path: Path) -> None:
    for candidate in (path, *(Path(f"{path}{s}") for s in _SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()


def _counted(rows: Iterable[_T], tally: Counter[str], name: str) -> Iterator[_T]:
    for row in rows:
        tally[name] += 1
        yield row


def _invoice_rows(
    invoices: Iterable[SeedInvoice], stamp: str, by_status: Counter[str]
) -> Iterator[tuple[object, ...]]:
    """Rows in INVOICE_COLUMNS order."""
    for inv in invoices:
        by_status[inv.status] += 1
        due = inv.due_date.isoformat()
        failed = inv.status == "FAILED"
        yield (
            inv.id,
            inv.customer_id,
            inv.amount,
            inv.currency,
            inv.status,
            due,
            inv.decline_count,
            due if failed else None,
            inv.next_retry_on.isoformat() if inv.next_retry_on else None,
            "declined" if failed else None,
            "declined before this database was seeded" if failed else None,
            stamp,
            stamp,
            f"{due}T00:00:00+00:00" if inv.status == "PAID" else None,
        )
