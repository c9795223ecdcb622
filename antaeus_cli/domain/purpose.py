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
