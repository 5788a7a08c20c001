"""The style manifest: JSON stored in the ONNX model's metadata under the key ``stylerack``.

See docs/style-format.md for the contract. ``parse_manifest`` is the only way in: it
validates every field and names the file in its error.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from realtime.errors import StyleFormatError

MANIFEST_KEY = "stylerack"
SCHEMA_VERSION = 1
DEFAULT_PROBE_HZ = 220.0  # the tone of an "onset" latency probe unless the manifest names another
REQUIRED_FIELDS = (
    "schema",
    "name",
    "description",
    "category",
    "sample_rate",
    "channels",
    "block_multiple",
    "latency_samples",
    "params",
    "provenance",
)


@dataclass(frozen=True)
class ParamSpec:
    """One knob of a style: its value is fed in ``params[index]``."""

    name: str
    min: float
    max: float
    default: float
    unit: str = ""
    step: float | None = None  # a knob that moves in steps (semitones, for example); None: continuous

    def clamp(self, value: float) -> float:
        """The value the knob takes: within its range and, for a stepped knob, on a step."""
        value = min(self.max, max(self.min, float(value)))
        if self.step:
            value = min(self.max, self.min + round((value - self.min) / self.step) * self.step)
        return value


@dataclass(frozen=True)
class StyleManifest:
    """What a style declares about itself (schema 1)."""

    name: str
    description: str
    category: str
    sample_rate: int
    channels: int
    block_multiple: int
    latency_samples: int
    params: tuple[ParamSpec, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION
    latency_probe: str = "impulse"  # how `validate` measures latency_samples: "impulse" or "onset"
    #: knob values (by name) at which latency_samples holds exactly (a denoiser at strength 0 is a
    #: pure delay; held back, a frame's noise rings a little before its delayed time)
    latency_probe_params: dict[str, float] = field(default_factory=dict)
    #: the tone an "onset" probe plays (Hz): a style whose onset depends on the input's pitch
    #: (a personal voice) declares its latency at the pitch where its onset is latest
    latency_probe_hz: float = DEFAULT_PROBE_HZ

    def probe_values(self) -> list[float]:
        """The knob values ``validate`` measures the latency at: the defaults, less
        ``latency_probe_params``."""
        return [self.latency_probe_params.get(p.name, p.default) for p in self.params]

    def param_index(self, name: str) -> int:
        for index, spec in enumerate(self.params):
            if spec.name == name:
                return index
        known = ", ".join(p.name for p in self.params) or "none"
        raise KeyError(f"style '{self.name}' has no knob '{name}' (knobs: {known})")

    def to_json(self) -> str:
        body = {
            "schema": self.schema,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "block_multiple": self.block_multiple,
            "latency_samples": self.latency_samples,
            "params": [
                {"name": p.name, "min": p.min, "max": p.max, "default": p.default, "unit": p.unit}
                | ({"step": p.step} if p.step is not None else {})
                for p in self.params
            ],
            "provenance": self.provenance,
        }
        if self.latency_probe != "impulse":
            body["latency_probe"] = self.latency_probe
        if self.latency_probe_params:
            body["latency_probe_params"] = dict(self.latency_probe_params)
        if self.latency_probe_hz != DEFAULT_PROBE_HZ:
            body["latency_probe_hz"] = self.latency_probe_hz
        return json.dumps(body, sort_keys=False)


def _fail(source: str, problem: str) -> StyleFormatError:
    return StyleFormatError(f"{source}: invalid manifest: {problem}")


def _int_field(raw: dict, key: str, source: str, minimum: int) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(source, f"'{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _str_field(raw: dict, key: str, source: str, allow_empty: bool = False) -> str:
    value = raw[key]
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise _fail(source, f"'{key}' must be a non-empty string, got {value!r}")
    return value


def _number(value: Any, what: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, f"{what} must be a finite number, got {value!r}")
    return float(value)


def _parse_param(raw: Any, index: int, source: str) -> ParamSpec:
    if not isinstance(raw, dict):
        raise _fail(source, f"params[{index}] must be an object")
    for key in ("name", "min", "max", "default"):
        if key not in raw:
            raise _fail(source, f"params[{index}] lacks '{key}'")
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, f"params[{index}].name must be a non-empty string")
    low = _number(raw["min"], f"params[{index}].min", source)
    high = _number(raw["max"], f"params[{index}].max", source)
    default = _number(raw["default"], f"params[{index}].default", source)
    if not low < high:
        raise _fail(source, f"param '{name}': min {low} must be below max {high}")
    if not low <= default <= high:
        raise _fail(source, f"param '{name}': default {default} is outside [{low}, {high}]")
    unit = raw.get("unit", "")
    if not isinstance(unit, str):
        raise _fail(source, f"param '{name}': unit must be a string")
    step = raw.get("step")
    if step is not None:
        step = _number(step, f"params[{index}].step", source)
        if not 0 < step <= high - low:
            raise _fail(source, f"param '{name}': step {step} must be above 0 and at most the range {high - low}")
    return ParamSpec(name=name, min=low, max=high, default=default, unit=unit, step=step)


def parse_manifest(text: str | None, source: str) -> StyleManifest:
    """Parse and validate manifest JSON; ``source`` (the file) goes into every error."""
    if text is None:
        raise StyleFormatError(f"{source}: no StyleRack manifest (metadata key '{MANIFEST_KEY}')")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(source, f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise _fail(source, "must be a JSON object")
    if "schema" not in raw:
        raise _fail(source, "lacks 'schema'")
    if raw["schema"] != SCHEMA_VERSION:
        raise StyleFormatError(
            f"{source}: unknown manifest schema {raw['schema']!r} (this StyleRack reads schema "
            f"{SCHEMA_VERSION}; a newer StyleRack may read it)"
        )
    missing = [key for key in REQUIRED_FIELDS if key not in raw]
    if missing:
        raise _fail(source, "lacks " + ", ".join(f"'{key}'" for key in missing))
    if not isinstance(raw["params"], list):
        raise _fail(source, "'params' must be a list")
    if not isinstance(raw["provenance"], dict):
        raise _fail(source, "'provenance' must be an object")
    params = tuple(_parse_param(p, i, source) for i, p in enumerate(raw["params"]))
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise _fail(source, f"knob names repeat: {names}")
    return StyleManifest(
        schema=SCHEMA_VERSION,
        name=_str_field(raw, "name", source),
        description=_str_field(raw, "description", source, allow_empty=True),
        category=_str_field(raw, "category", source),
        sample_rate=_int_field(raw, "sample_rate", source, 1000),
        channels=_int_field(raw, "channels", source, 1),
        block_multiple=_int_field(raw, "block_multiple", source, 1),
        latency_samples=_int_field(raw, "latency_samples", source, 0),
        params=params,
        provenance=dict(raw["provenance"]),
        latency_probe=_latency_probe(raw, source),
        latency_probe_params=_latency_probe_params(raw, params, source),
        latency_probe_hz=_latency_probe_hz(raw, source),
    )


LATENCY_PROBES = ("impulse", "onset")
PROBE_HZ_RANGE = (50.0, 1000.0)


def _latency_probe_hz(raw: dict, source: str) -> float:
    if "latency_probe_hz" not in raw:
        return DEFAULT_PROBE_HZ
    value = _number(raw["latency_probe_hz"], "latency_probe_hz", source)
    if not PROBE_HZ_RANGE[0] <= value <= PROBE_HZ_RANGE[1]:
        raise _fail(source, f"'latency_probe_hz' {value} is outside [{PROBE_HZ_RANGE[0]:g}, {PROBE_HZ_RANGE[1]:g}] Hz")
    return value


def _latency_probe(raw: dict, source: str) -> str:
    value = raw.get("latency_probe", "impulse")
    if value not in LATENCY_PROBES:
        raise _fail(source, f"'latency_probe' must be one of {', '.join(LATENCY_PROBES)}, got {value!r}")
    return value


def _latency_probe_params(raw: dict, params: tuple[ParamSpec, ...], source: str) -> dict[str, float]:
    value = raw.get("latency_probe_params", {})
    if not isinstance(value, dict):
        raise _fail(source, f"'latency_probe_params' must be an object of knob values, got {value!r}")
    specs = {p.name: p for p in params}
    probe = {}
    for name, number in value.items():
        if name not in specs:
            raise _fail(source, f"'latency_probe_params' names '{name}', which is not a knob ({', '.join(specs) or 'none'})")
        number = _number(number, f"latency_probe_params.{name}", source)
        if not specs[name].min <= number <= specs[name].max:
            raise _fail(source, f"'latency_probe_params': {name} {number} is outside [{specs[name].min}, {specs[name].max}]")
        probe[name] = number
    return probe
