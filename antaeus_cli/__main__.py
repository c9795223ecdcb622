"""`python -m antaeus_cli` runs the same CLI as the `antaeus` script."""

from antaeus_cli.cli.app import main

main()
