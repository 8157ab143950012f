"""Run the command line as `python -m omnisync`."""

from omnisync.cli import main

main()
