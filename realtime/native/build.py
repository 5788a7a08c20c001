"""Builds the native core (``realtime.native._core``) with cffi in API mode.

It is compiled when the package is installed (``cffi_modules`` in setup.py); to rebuild in
place after editing the C source: ``python -m realtime.native.build``. Needs a C compiler
and the Python headers (scripts/setup.sh installs them when run as root).
"""

from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "core.h"


def declarations() -> str:
    """core.h as cffi's cdef wants it: no comments or preprocessor lines but the numeric
    constants, which are also spelled out where they size arrays."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    defines = re.findall(r"^#define (SR_\w+) (\d+)$", text, flags=re.M)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for name, value in defines:
        body = re.sub(rf"\[{name}\]", f"[{value}]", body)
    return "\n".join(f"#define {name} {value}" for name, value in defines) + "\n" + body


def make_builder(source_dir: str) -> FFI:
    """The cffi builder; ``source_dir``: where core.c is, relative to setup.py for an install."""
    builder = FFI()
    builder.cdef(declarations())
    builder.set_source(
        "realtime.native._core",
        '#include "core.h"',
        sources=[f"{source_dir}/core.c"],
        include_dirs=[source_dir],
        extra_compile_args=["-O2", "-std=gnu99", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        libraries=["m", "pthread"],
    )
    return builder


ffibuilder = make_builder("realtime/native")  # setup.py's cffi_modules

if __name__ == "__main__":
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        built = Path(make_builder(str(HERE)).compile(tmpdir=work))
        staged = HERE / (built.name + ".new")
        shutil.copy2(built, staged)
        staged.replace(HERE / built.name)  # a rename: a process that has the old one loaded keeps it
        for other in HERE.glob("_core*.so"):  # one built by pip under another name would shadow or be shadowed
            if other.name != built.name:
                other.unlink()
        print(f"built {HERE / built.name}")
