"""What a database is for, and which payment provider may charge from it.

A database made by `antaeus seed` is a *demo*: its invoices are invented, and it may
charge through the simulator (`sim://`), the default when no provider is named. A
database made by `antaeus init` is for *production*: its invoices are real, so it
charges through a real provider only, and never by default. A database made before
its purpose was recorded is *unknown*: it runs only with a provider named, so that a
forgotten setting can never mark real invoices paid while no money moves.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from antaeus_cli.domain.words import counted

SIMULATOR_SCHEME = "sim"


class Purpose(enum.Enum):
    DEMO = "demo"
    PRODUCTION = "production"
    UNKNOWN = "unknown"

    @classmethod
    def stored(cls, value: object) -> Purpose:
        """The purpose a database records: none recorded is unknown; anything but
        exactly `demo` is held to production's rules, the stricter reading."""
        if value is None:
            return cls.UNKNOWN
        return cls.DEMO if value == cls.DEMO.value else cls.PRODUCTION


def provider_refusal(purpose: Purpose, scheme: str, *, named: bool, setting: str) -> str | None:
    """Why a pass on a database of this purpose may not charge through a provider of
    this scheme (None: it may). `named`: the provider was given (the option or the
    `setting` variable), not taken by default; `setting` is that variable's name."""
    if purpose is Purpose.DEMO:
        return None
    if not named:
        if purpose is Purpose.PRODUCTION:
            return (
                f"no payment provider: a production database never falls back to the "
                f"simulator; set {setting}, e.g. stripe://?api_key_file=/run/secrets/stripe"
            )
        return (
            f"no payment provider, and this database does not say it is a demo (it was "
            f"made before databases recorded their purpose): set {setting} to the real "
            f"provider, or pass --provider sim:// for a demo"
        )
    if purpose is Purpose.PRODUCTION and scheme == SIMULATOR_SCHEME:
        return (
            f"a production database never charges through the simulator (sim://), which "
            f"marks invoices paid while no money moves: set {setting} to the real provider"
        )
    return None


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """The provider account a key charges into, as the provider names it: for Stripe,
    the account id (`acct_...`) and whether the key is live (None: it cannot tell)."""

    provider: str
    account: str
    live: bool | None

    @property
    def mode(self) -> str:
        return {True: "live", False: "test", None: "unknown"}[self.live]

    def stored(self) -> str:
        """How the database records it (`meta.provider_account`)."""
        return f"{self.provider} {self.account} {self.mode}"

    @classmethod
    def parse(cls, text: str) -> ProviderAccount | None:
        """The account a database recorded; None if the text is not one."""
        parts = text.split(" ")
        if len(parts) != 3 or not all(parts) or parts[2] not in _MODES:
            return None
        return cls(parts[0], parts[1], _MODES[parts[2]])

    def __str__(self) -> str:
        return f"{self.provider} account {self.account} in {self.mode} mode"


_MODES: dict[str, bool | None] = {"live": True, "test": False, "unknown": None}


def binding_refusal(bound: str | None, found: ProviderAccount) -> str | None:
    """Why a pass may not charge through the account `found` from a database bound to
    the account recorded as `bound` (None: not bound yet, and the pass binds it)."""
    if bound is None:
        return None
    recorded = ProviderAccount.parse(bound)
    if recorded is None:
        return (
            "the provider account this database is bound to is recorded in a form this "
            "version cannot read (meta.provider_account): restore the row, or ask for help"
        )
    if recorded == found:
        return None
    if recorded.account == found.account and recorded.provider == found.provider:
        cause = f"a {found.mode}-mode key for a {recorded.mode}-mode database"
    else:
        cause = "another account's key"
    return (
        f"this database charges through {recorded}, but the key given is for {found}: "
        f"nothing was charged; give a key of the bound account and mode ({cause} is the "
        "usual cause)"
    )


# How far before the ledger's newest attempt the provider's charges are read, for the
# clocks of this host and the provider's to differ.
RESTORE_SLACK_S = 600


def restore_refusal(unknown_keys: list[str]) -> str | None:
    """Why a pass may not charge when the provider holds charges made under this
    database's keys that its ledger does not know (None: it knows them all). Only a
    database restored from a backup taken before those charges forgets them (the ledger
    commits every key before it is sent); a pass would charge their invoices again,
    and once the provider has forgotten a key (Stripe: after 24 hours), twice."""
    if not unknown_keys:
        return None
    shown = ", ".join(unknown_keys[:3]) + (" ..." if len(unknown_keys) > 3 else "")
    return (
        f"the provider holds {counted(len(unknown_keys), 'charge')} made under this "
        f"database's keys that its ledger does not know ({shown}): it looks "
        "restored from a backup taken before them, and a pass would charge their invoices "
        "again; nothing was charged"
    )


def key_parts(namespace: str, key: str) -> tuple[int, int] | None:
    """The invoice id and attempt number a key of this namespace was made for (as
    `domain.invoice.idempotency_key` makes it); None for any other text."""
    head = f"{namespace}-inv-"
    if not key.startswith(head):
        return None
    invoice, _, attempt = key[len(head) :].partition("-")
    if not (invoice.isascii() and invoice.isdigit() and attempt.isascii() and attempt.isdigit()):
        return None
    if invoice.startswith("0") or attempt.startswith("0"):
        return None
    return int(invoice), int(attempt)
