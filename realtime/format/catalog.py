"""Where styles live and how a name or a path picks one.

Search order: folders given with ``--styles-dir`` (first wins), the user's data folder,
then the styles shipped inside the package.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from realtime.errors import StyleFormatError, StyleNotFoundError, StyleRackError
from realtime.format.style import Style, load_style

STYLE_SUFFIX = ".onnx"
# categories of styles that make a new sound from features of the input (pitch, envelope) rather
# than process it as an effect: each has its own measures (bench, tests), not an effect's ESR
RESYNTHESIS_CATEGORIES = ("timbre", "voice")
# every category measured by its own benchmark rather than as an effect capture (ESR): the
# resynthesis ones and restoration (bench/denoise.py)
NON_EFFECT_CATEGORIES = (*RESYNTHESIS_CATEGORIES, "restoration")


def shipped_styles_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "styles"


def user_styles_dir() -> Path:
    return Path(platformdirs.user_data_dir("stylerack", appauthor=False)) / "styles"


def search_dirs(extra_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    return [Path(d) for d in extra_dirs] + [user_styles_dir(), shipped_styles_dir()]


@dataclass(frozen=True)
class Refused:
    path: Path
    reason: str


#: styles read by ``discover``, by path, with the (inode, modification time in ns, size in bytes)
#: they were read at: a file is parsed again only when it changes. Parsing holds the GIL (up to
#: 5 ms for a 5 MB style on a slow machine), which the live style worker needs every block:
#: resolving a name while audio runs must not parse every installed style (``stylerack run``
#: fills this before it starts).
_READ: dict[str, tuple[tuple[int, int, int], Style | StyleRackError]] = {}


def _read_style(path: Path) -> Style:
    """``load_style(path)``, or its refusal, from ``_READ`` while the file is unchanged."""
    info = path.stat()
    stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
    stamped, found = _READ.get(str(path), (None, None))
    if stamped != stamp:
        try:
            found = load_style(path)
        except StyleRackError as exc:
            found = exc
        _READ[str(path)] = (stamp, found)
    if isinstance(found, StyleRackError):
        raise found.with_traceback(None)
    return found


def discover(extra_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[list[Style], list[Refused]]:
    """Every style file in the search folders, and the files that were refused (with why)."""
    styles: list[Style] = []
    refused: list[Refused] = []
    seen: set[str] = set()
    for folder in search_dirs(extra_dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{STYLE_SUFFIX}")):
            try:
                style = _read_style(path)
            except OSError:
                continue  # removed since the folder was listed
            except StyleRackError as exc:
                refused.append(Refused(path, str(exc)))
                continue
            if style.name.lower() in seen:
                continue  # an earlier folder's style of the same name wins
            seen.add(style.name.lower())
            styles.append(style)
    return styles, refused


def looks_like_path(text: str) -> bool:
    return text.endswith(STYLE_SUFFIX) or os.sep in text or "/" in text


def resolve(name_or_path: str, extra_dirs: Sequence[str | os.PathLike[str]] = ()) -> Style:
    """A style by file path, or by its manifest name or file stem (case-insensitive)."""
    if looks_like_path(name_or_path) or Path(name_or_path).is_file():
        return load_style(name_or_path)
    wanted = name_or_path.lower()
    styles, refused = discover(extra_dirs)
    for style in styles:
        if style.name.lower() == wanted or style.path.stem.lower() == wanted:
            return style
    for item in refused:
        if item.path.stem.lower() == wanted:
            raise StyleFormatError(item.reason)
    known = ", ".join(sorted(s.name for s in styles)) or "none installed"
    raise StyleNotFoundError(f"no style named '{name_or_path}' (available: {known})")
