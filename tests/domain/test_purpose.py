"""Which provider a database may charge through, by what it is for."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.purpose import ProviderAccount, Purpose, binding_refusal, provider_refusal

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


BOUND = ProviderAccount("stripe", "acct_1", live=True)


@pytest.mark.parametrize(
    "account",
    [
        BOUND,
        ProviderAccount("stripe", "acct_2", live=False),
        ProviderAccount("stripe", "acct_3", live=None),
    ],
)
def test_a_recorded_account_reads_back_as_itself(account: ProviderAccount) -> None:
    assert ProviderAccount.parse(account.stored()) == account


@pytest.mark.parametrize(
    "text",
    [
        "",
        "stripe acct_1",
        "stripe acct_1 live extra",
        "stripe  live",
        "stripe acct_1 LIVE",
        " stripe acct_1 live",
    ],
)
def test_a_recorded_account_in_another_form_is_not_read(text: str) -> None:
    assert ProviderAccount.parse(text) is None


def test_only_the_bound_account_in_its_mode_may_charge() -> None:
    assert binding_refusal(None, BOUND) is None  # not bound yet: this pass binds it
    assert binding_refusal(BOUND.stored(), BOUND) is None
    test_key = ProviderAccount("stripe", "acct_1", live=False)
    assert binding_refusal(BOUND.stored(), test_key) == (
        "this database charges through stripe account acct_1 in live mode, but the key "
        "given is for stripe account acct_1 in test mode: nothing was charged; give a key "
        "of the bound account and mode (a test-mode key for a live-mode database is the "
        "usual cause)"
    )
    live_key = binding_refusal(test_key.stored(), BOUND)
    assert live_key is not None
    assert "(a live-mode key for a test-mode database is the usual cause)" in live_key
    other = binding_refusal(BOUND.stored(), ProviderAccount("stripe", "acct_9", live=True))
    assert other is not None
    assert "(another account's key is the usual cause)" in other
    assert binding_refusal(BOUND.stored(), ProviderAccount("other", "acct_1", live=True))
    unreadable = binding_refusal("garbled", BOUND)
    assert unreadable is not None
    assert "cannot read (meta.provider_account)" in unreadable


def test_a_ledger_that_knows_every_key_is_not_restored() -> None:
    from antaeus_cli.domain.purpose import restore_refusal

    assert restore_refusal([]) is None
    one = restore_refusal(["ns-inv-2-1"])
    assert one is not None
    assert one.startswith(
        "the provider holds 1 charge made under this database's keys that its ledger does "
        "not know (ns-inv-2-1): it looks restored from a backup taken before them"
    )
    many = restore_refusal([f"ns-inv-{n}-1" for n in range(5)])
    assert many is not None
    assert "holds 5 charges" in many
    assert "(ns-inv-0-1, ns-inv-1-1, ns-inv-2-1 ...)" in many


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("ns-inv-12-3", (12, 3)),
        ("ns-inv-1-1", (1, 1)),
        ("other-inv-12-3", None),
        ("ns-inv-12", None),
        ("ns-inv-012-3", None),
        ("ns-inv-12-0", None),
        ("ns-inv-x-3", None),
        ("ns-inv-١٢-3", None),
        ("ns-run-4-run_summary", None),
    ],
)
def test_a_key_is_read_back_as_its_invoice_and_attempt(
    key: str, parts: tuple[int, int] | None
) -> None:
    from antaeus_cli.domain.invoice import idempotency_key
    from antaeus_cli.domain.purpose import key_parts

    assert key_parts("ns", key) == parts
    if parts is not None:
        assert idempotency_key("ns", *parts) == key
