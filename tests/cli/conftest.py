"""The CLI tests' runner: a CliRunner with none of antaeus' settings taken from the
environment the suite runs in, and no colour."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

# Every setting the CLI reads from the environment.
ENVIRONMENT = (
    "ANTAEUS_DB",
    "ANTAEUS_PROVIDER",
    "ANTAEUS_NOTIFY",
    "ANTAEUS_DUNNING",
    "ANTAEUS_TZ",
    "ANTAEUS_FAILPOINT",
)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return CliRunner()
