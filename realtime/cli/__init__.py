"""The ``stylerack`` command line and ``run``'s console."""

from realtime.cli.main import main

__all__ = ["main"]
