"""Whatever a Stripe-compatible server quotes of the key never leaves the adapter."""

from __future__ import annotations

import pytest

from antaeus_cli.provider.stripe_wire import error_of


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500])
@pytest.mark.parametrize(
    ("key", "quoted"),
    [
        ("sk_ab", "sk_ab"),  # short: quoted whole
        ("sk_ab", "sk_abk_ab"),  # masked as prefix and last four, overlapping
        ("gw_0123456789abcdef", "gw_01234********cdef"),  # not shaped like Stripe's
        ("sk_live_0123456789abcdefXYZW", "sk_live_0123456789abcdefXYZW"),
    ],
)
def test_the_key_and_its_pieces_are_scrubbed_from_every_error(
    status: int, key: str, quoted: str
) -> None:
    body = {"error": {"message": f"Invalid API Key provided: {quoted}"}}
    text = str(error_of(status, body, key=key))
    for piece in (key, key[:8], key[-4:]):
        assert piece not in text
