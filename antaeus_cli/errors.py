"""Every error the tool expects, raised in the core and turned into an exit code
once, at the CLI boundary. Each message names the thing and the next step."""

from __future__ import annotations


class AntaeusError(Exception):
    """An expected failure with a one-line, actionable message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(AntaeusError):
    """Something the caller gave us is wrong: an option, a file or a named invoice."""


class DatabaseNotFound(InputError):
    """The database file does not exist."""


class NotAnAntaeusDatabase(InputError):
    """The file exists but is not a database this tool created."""


class SchemaTooNew(InputError):
    """The database was written by a newer version of this tool."""


class RestoredDatabase(InputError):
    """The provider holds charges under the database's keys that its ledger does not
    know: it was restored from a backup taken before them."""


class SchemaTooOld(InputError):
    """The database has an older schema: `antaeus migrate` moves it forward."""


class DatabaseExists(InputError):
    """`seed` would overwrite a database without --force."""


class FixtureError(InputError):
    """A scenario file does not match the fixture format."""


class ProviderSpecError(InputError):
    """A --provider / ANTAEUS_PROVIDER spec that cannot be used."""


class NotifySpecError(InputError):
    """A --notify / ANTAEUS_NOTIFY spec that cannot be used."""


class TemplatesError(InputError):
    """A --templates directory (its branding, or a template in it) that cannot be used."""


class NotRetryable(InputError):
    """An invoice named with --invoice cannot be charged now."""


class NotVoidable(InputError):
    """An invoice named to `antaeus void` must not be voided: money moved or may have."""


class UnknownStatus(InputError):
    """An invoice named to a command has a status antaeus does not know (a hand edit)."""


class MigrationRefused(InputError):
    """The database holds rows the next schema version forbids: an operator fixes them first."""


class Contention(AntaeusError):
    """Another process holds what this one needs; trying again later is the fix."""


class LockHeld(Contention):
    """Another billing pass holds the pass lock."""


class LockLost(Contention):
    """This pass's lock was taken over while it ran; it stopped to stay safe."""


class LedgerConflict(Contention):
    """Attempts were settled by another pass while this one held their answers."""


class DatabaseBusy(Contention):
    """Another process held a write transaction for longer than the busy timeout."""


class ProviderUnreachable(AntaeusError):
    """The provider did not answer before the pass began; nothing was claimed."""


class StoppedBeforeStart(AntaeusError):
    """A signal arrived before the pass began (while the provider was checked): nothing
    was claimed, nothing was charged."""


class StorageError(AntaeusError):
    """The database could not be read or written: permissions, space or hardware."""


class ReadOnlyDatabase(StorageError):
    """The database file or its directory is not writable."""


class UnreadableDatabase(StorageError):
    """A command that only reads cannot read the database: the file, its -wal or -shm
    file, or its directory is closed to the user running it."""


class DiskFull(StorageError):
    """The disk, a quota or a file-size limit ran out while writing."""


class DatabaseDamaged(StorageError):
    """SQLite reports the file as corrupt."""
