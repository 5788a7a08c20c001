"""Where a trained style's files go: NAME.onnx and its companions (NAME.pt, NAME.json, ...) in one
existing folder, all checked before any work starts, so that a refusal costs nothing and no file
the user already has is replaced without ``--overwrite``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from realtime.errors import ConfigError, StyleRackError

#: what a trainer writes: the style, its checkpoint, the loss curve, the report
TRAINED_FILES = ("onnx", "pt", "loss.png", "report.json")


def output_paths(out_dir: Path, name: str, suffixes: Sequence[str] = TRAINED_FILES,
                 style_dir: Path | None = None) -> dict[str, Path]:
    """``{suffix: out_dir / f"{name}.{suffix}"}``, unchecked (``style_outputs`` checks them); the
    style (``onnx``) in ``style_dir`` when given (a shipped style's checkpoint is kept apart)."""
    paths = {suffix: Path(out_dir) / f"{name}.{suffix}" for suffix in suffixes}
    if style_dir is not None and "onnx" in paths:
        paths["onnx"] = Path(style_dir) / f"{name}.onnx"
    return paths


def style_outputs(out_dir: Path, name: str, suffixes: Sequence[str], overwrite: bool,
                  error: type[StyleRackError] = ConfigError, new_folder_ok: bool = False) -> dict[str, Path]:
    """``{suffix: out_dir / f"{name}.{suffix}"}`` for each suffix; ``error`` (one line naming the
    name, folder or file) when the name is not a plain file name, the folder does not exist (a
    folder the caller will create is fine with ``new_folder_ok``) or is a file, or one of the files
    exists and ``overwrite`` is false."""
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise error(f"'{name}' is not a style name (letters, digits, - and _)")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise error(f"{out_dir}: is a file, not an output folder")
    if not out_dir.exists() and not new_folder_ok:
        raise error(f"{out_dir}: output folder does not exist")
    paths = output_paths(out_dir, name, suffixes)
    for path in paths.values():
        if path.exists() and not overwrite:
            raise error(f"{path}: already exists (choose another --name, or --overwrite)")
    return paths
