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
                style = load_style(path)
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
