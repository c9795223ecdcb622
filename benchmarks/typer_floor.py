"""The floor of a no-op `bill`'s start-up: a bare Typer command with options of the same
kinds, parsing the same arguments and doing nothing. Typer coerces every option
through a pydantic TypeAdapter, so this is what Typer alone costs before any of
antaeus runs."""

from __future__ import annotations

from typing import Annotated

import typer  # noqa: TID251 - a floor of what Typer costs, outside the core

app = typer.Typer(add_completion=False)


@app.callback()
def main(db: Annotated[str, typer.Option("--db")] = "antaeus.db") -> None:
    pass


@app.command()
def bill(  # noqa: PLR0917 - the same options as `antaeus bill`
    as_of: Annotated[str | None, typer.Option("--as-of")] = None,
    tz: Annotated[str | None, typer.Option("--tz")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 8,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    provider: Annotated[str | None, typer.Option()] = None,
    dunning: Annotated[str | None, typer.Option()] = None,
    outage_threshold: Annotated[int, typer.Option(min=1, max=10_000)] = 5,
    network_tries: Annotated[int, typer.Option(min=1, max=20)] = 4,
    backoff_ms: Annotated[int, typer.Option(min=0, max=60_000)] = 200,
    max_rate: Annotated[float | None, typer.Option(min=0.1, max=100_000)] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
    max_total: Annotated[list[str] | None, typer.Option()] = None,
    breaker_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
    breaker_window: Annotated[int, typer.Option(min=1, max=1_000_000)] = 100,
    anomaly_factor: Annotated[int, typer.Option(min=0, max=1_000_000)] = 10,
    anomaly_history: Annotated[int, typer.Option(min=1, max=1_000_000)] = 3,
) -> None:
    pass


if __name__ == "__main__":
    app()
