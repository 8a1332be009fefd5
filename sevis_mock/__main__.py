"""`python -m sevis_mock` is the `sevis-mock` command."""

from sevis_mock.cli import main

main()
