"""The command line: parse, wire, call one service, render. The only layer that
knows typer, rich and exit codes."""
