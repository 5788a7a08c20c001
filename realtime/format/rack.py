"""A rack: styles in series, each with its knobs, mix and bypass, and the master settings.

Rack files are JSON (``docs/rack-format.md``)::

    {"schema": "stylerack.rack/1",
     "master": {"mix": 1.0, "bypass": false, "input_gain_db": 0.0, "output_gain_db": 0.0},
     "slots": [{"style": "tube-drive", "sha256": "…", "params": {"drive": 0.7},
                "mix": 1.0, "bypass": false}]}

A slot names its style (as ``stylerack styles`` lists it) and records the style file's
sha256, so a style that changed since the rack was saved is noticed. Broken files are
refused in one line that names the file; nothing is ever written over without
``overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from realtime.errors import RackFormatError
from realtime.format.style import Style

RACK_SCHEMA = "stylerack.rack/1"
RACK_SUFFIX = ".json"


@dataclass
class SlotSpec:
    """One slot: ``style`` is a name or path (or a loaded Style); ``mix`` is this slot's
    wet share (0..1) against its own aligned dry; a bypassed slot plays its aligned dry."""

    style: str | Style
    params: dict[str, float] = field(default_factory=dict)
    mix: float = 1.0
    bypass: bool = False
    sha256: str | None = None

    @property
    def style_name(self) -> str:
        return self.style.name if isinstance(self.style, Style) else str(self.style)


@dataclass
class RackSpec:
    slots: list[SlotSpec] = field(default_factory=list)
    mix: float = 1.0
    bypass: bool = False
    input_gain_db: float = 0.0
    output_gain_db: float = 0.0

    def to_json(self) -> dict:
        return {
            "schema": RACK_SCHEMA,
            "master": {
                "mix": self.mix,
                "bypass": self.bypass,
                "input_gain_db": self.input_gain_db,
                "output_gain_db": self.output_gain_db,
            },
            "slots": [
                {
                    "style": s.style_name,
                    "sha256": file_sha256(s.style.path) if isinstance(s.style, Style) else s.sha256,
                    "params": dict(s.params),
                    "mix": s.mix,
                    "bypass": s.bypass,
                }
                for s in self.slots
            ],
        }


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _number(value, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, not {json.dumps(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{where} is {value}, outside {low}..{high}")
    return float(value)


def _flag(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false, not {json.dumps(value)}")
    return value


def _object(value, where: str, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(f"{where} has unknown field(s): {', '.join(unknown)}")
    return value


def rack_from_json(data) -> RackSpec:
    """A RackSpec from parsed JSON; ValueError (one line) when it is not a valid rack."""
    data = _object(data, "the rack", {"schema", "master", "slots"})
    if data.get("schema") != RACK_SCHEMA:
        raise ValueError(f"unknown schema {json.dumps(data.get('schema'))} (this StyleRack reads '{RACK_SCHEMA}')")
    master = _object(data.get("master", {}), "master", {"mix", "bypass", "input_gain_db", "output_gain_db"})
    slots = data.get("slots")
    if not isinstance(slots, list):
        raise ValueError("'slots' must be a list")
    rack = RackSpec(
        mix=_number(master.get("mix", 1.0), "master mix", 0.0, 1.0),
        bypass=_flag(master.get("bypass", False), "master bypass"),
        input_gain_db=_number(master.get("input_gain_db", 0.0), "master input_gain_db", -60.0, 24.0),
        output_gain_db=_number(master.get("output_gain_db", 0.0), "master output_gain_db", -60.0, 24.0),
    )
    for number, slot in enumerate(slots, 1):
        where = f"slot {number}"
        slot = _object(slot, where, {"style", "sha256", "params", "mix", "bypass"})
        style = slot.get("style")
        if not isinstance(style, str) or not style.strip():
            raise ValueError(f"{where} needs a style name")
        sha = slot.get("sha256")
        if sha is not None and not (isinstance(sha, str) and len(sha) == 64):
            raise ValueError(f"{where}: sha256 must be 64 hex digits")
        params = slot.get("params", {})
        if not isinstance(params, dict):
            raise ValueError(f"{where} params must be an object")
        rack.slots.append(
            SlotSpec(
                style=style,
                params={str(k): _number(v, f"{where} knob '{k}'") for k, v in params.items()},
                mix=_number(slot.get("mix", 1.0), f"{where} mix", 0.0, 1.0),
                bypass=_flag(slot.get("bypass", False), f"{where} bypass"),
                sha256=sha,
            )
        )
    return rack


def read_rack(path: str | os.PathLike[str]) -> RackSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RackFormatError(f"{path}: cannot read the rack file ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RackFormatError(f"{path}: not a rack file: broken JSON at line {exc.lineno} ({exc.msg})") from None
    try:
        return rack_from_json(data)
    except ValueError as exc:
        raise RackFormatError(f"{path}: {exc}") from None


def write_rack(path: str | os.PathLike[str], rack: RackSpec, overwrite: bool = False) -> Path:
    """Write atomically (a temporary file renamed into place); an existing file is refused
    unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise RackFormatError(f"{path}: already exists (save under another name, or overwrite it on purpose)")
    if path.suffix.lower() != RACK_SUFFIX:
        raise RackFormatError(f"{path}: rack files end in {RACK_SUFFIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(rack.to_json(), indent=2) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise RackFormatError(f"{path}: cannot write the rack file ({exc.strerror or exc})") from None
    return path
