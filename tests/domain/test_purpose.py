"""Which provider a database may charge through, by what it is for."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.purpose import Purpose, provider_refusal

SETTING = "ANTAEUS_PROVIDER"


@pytest.mark.parametrize(
    ("purpose", "scheme", "named", "allowed"),
    [
        (Purpose.DEMO, "sim", False, True),  # a demo falls back to the simulator
        (Purpose.DEMO, "sim", True, True),
        (Purpose.DEMO, "stripe", True, True),
        (Purpose.PRODUCTION, "sim", False, False),  # the forgotten setting
        (Purpose.PRODUCTION, "sim", True, False),  # a simulator named on purpose
        (Purpose.PRODUCTION, "stripe", True, True),
        (Purpose.UNKNOWN, "sim", False, False),  # cannot tell: say so
        (Purpose.UNKNOWN, "sim", True, True),  # a demo made before purposes were kept
        (Purpose.UNKNOWN, "stripe", True, True),
    ],
)
def test_who_may_charge_through_what(
    purpose: Purpose, scheme: str, *, named: bool, allowed: bool
) -> None:
    refused = provider_refusal(purpose, scheme, named=named, setting=SETTING)
    assert (refused is None) is allowed
    if refused is not None:
        assert SETTING in refused  # the one line says which variable to set


def test_the_words_of_each_refusal() -> None:
    unset = provider_refusal(Purpose.PRODUCTION, "sim", named=False, setting=SETTING)
    assert unset == (
        "no payment provider: a production database never falls back to the simulator; "
        "set ANTAEUS_PROVIDER, e.g. stripe://?api_key_file=/run/secrets/stripe"
    )
    simulated = provider_refusal(Purpose.PRODUCTION, "sim", named=True, setting=SETTING)
    assert simulated == (
        "a production database never charges through the simulator (sim://), which marks "
        "invoices paid while no money moves: set ANTAEUS_PROVIDER to the real provider"
    )
    unknown = provider_refusal(Purpose.UNKNOWN, "sim", named=False, setting=SETTING)
    assert unknown == (
        "no payment provider, and this database does not say it is a demo (it was made "
        "before databases recorded their purpose): set ANTAEUS_PROVIDER to the real "
        "provider, or pass --provider sim:// for a demo"
    )


@pytest.mark.parametrize(
    ("stored", "purpose"),
    [
        ("demo", Purpose.DEMO),
        ("production", Purpose.PRODUCTION),
        (None, Purpose.UNKNOWN),
        ("PRODUCTION", Purpose.PRODUCTION),  # not exactly "demo": the stricter rules
        ("Demo", Purpose.PRODUCTION),
        ("unknown", Purpose.PRODUCTION),
        (1, Purpose.PRODUCTION),
    ],
)
def test_a_stored_purpose_is_read_exactly(stored: object, purpose: Purpose) -> None:
    assert Purpose.stored(stored) is purpose
