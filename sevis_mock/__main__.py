"""`python -m sevis_mock` is the `sevis-mock` command."""

from sevis_mock.server.cli import main

main()
