"""StyleRack's real-time core: style format, streaming engine, offline render, command line.

This package never imports torch, Qt, ``models`` or ``gui`` (checked by import-linter).
"""

__version__ = "0.1.0"
