"""StyleRack's real-time core, in layers (each uses only those below it; import-linter checks):

- ``cli``: the command line and ``run``'s console;
- ``live`` (devices, the live host, the engine process, recording) and ``offline`` (render,
  validate, benchmark);
- ``engine``: the mixer, the styles' runner, wet path and worker thread, rings, counters;
- ``format`` (the style format and catalog) and ``native`` (the C audio core, built with cffi).

This package never imports torch, Qt, ``models`` or ``gui``.
"""

__version__ = "0.1.0"
