"""Load a style file and check it against the style format (docs/style-format.md).

``load_style`` reads the ONNX graph without running it and refuses any file that breaks
the contract, with one message naming the file and the fault. Running the style is the
job of ``realtime.engine.runner``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from realtime.errors import StyleFormatError, StyleNotFoundError
from realtime.format.manifest import MANIFEST_KEY, StyleManifest, parse_manifest

MIN_OPSET = 17
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
AUDIO_IN = "audio_in"
AUDIO_OUT = "audio_out"
PARAMS = "params"
STATE_IN_PREFIX = "state_in_"
STATE_OUT_PREFIX = "state_out_"


@dataclass(frozen=True)
class Style:
    """A style file that passed the format checks.

    ``state_shapes`` maps each state key k to the static shape shared by
    ``state_in_<k>`` and ``state_out_<k>``.
    """

    path: Path
    manifest: StyleManifest
    state_shapes: dict[str, tuple[int, ...]]
    has_params: bool
    opset: int
    size_bytes: int

    @property
    def name(self) -> str:
        return self.manifest.name


def _dims(value_info: onnx.ValueInfoProto) -> list[int | None] | None:
    """Static dims as ints, dynamic ones as None; None when the rank is unknown."""
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]


def _read_model(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise StyleNotFoundError(f"{path}: no such style file")
    if path.is_dir():
        raise StyleFormatError(f"{path}: is a folder, not a style file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise StyleFormatError(f"{path}: not an ONNX model or truncated ({type(exc).__name__})") from None
    except OSError as exc:
        raise StyleFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if model.ir_version <= 0 or not model.graph.output:
        raise StyleFormatError(f"{path}: not an ONNX model or truncated (no graph)")
    return model


def _check_operators(path: Path, model: onnx.ModelProto) -> int:
    opsets = {entry.domain: entry.version for entry in model.opset_import}
    opset = opsets.get("", opsets.get("ai.onnx", 0))
    if opset < MIN_OPSET:
        raise StyleFormatError(f"{path}: ONNX opset {opset} is too old (the style format needs {MIN_OPSET}+)")
    local_functions = {f.domain for f in model.functions}
    allowed = STANDARD_DOMAINS | local_functions
    for node in model.graph.node:
        if node.domain not in allowed:
            raise StyleFormatError(
                f"{path}: custom operator '{node.domain}::{node.op_type}' (node '{node.name}'); "
                "styles may use standard ONNX operators only"
            )
    return opset


def _check_external_data(path: Path, model: onnx.ModelProto) -> None:
    folder = path.parent.resolve()
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        target = (folder / location).resolve()
        if os.path.isabs(location) or not target.is_relative_to(folder):
            raise StyleFormatError(
                f"{path}: tensor '{tensor.name}' refers to external data '{location}' outside the "
                "style's folder; refused"
            )
        if not target.is_file():
            raise StyleFormatError(f"{path}: external data file '{location}' of tensor '{tensor.name}' is missing")


def _manifest_text(model: onnx.ModelProto) -> str | None:
    for prop in model.metadata_props:
        if prop.key == MANIFEST_KEY:
            return prop.value
    return None


def _check_float32(path: Path, kind: str, info: onnx.ValueInfoProto) -> None:
    elem = info.type.tensor_type.elem_type
    if elem != onnx.TensorProto.FLOAT:
        name = onnx.TensorProto.DataType.Name(elem) if elem else "non-tensor"
        raise StyleFormatError(f"{path}: {kind} '{info.name}' is {name}; every tensor must be float32")


def _check_audio(path: Path, info: onnx.ValueInfoProto, manifest: StyleManifest) -> None:
    dims = _dims(info)
    if dims is None or len(dims) != 2:
        raise StyleFormatError(f"{path}: '{info.name}' must have shape [channels, frames]")
    channels, frames = dims
    if channels is not None and channels != manifest.channels:
        raise StyleFormatError(
            f"{path}: '{info.name}' has {channels} channels but the manifest says {manifest.channels}"
        )
    if frames is not None:
        raise StyleFormatError(f"{path}: '{info.name}' has a fixed frames axis ({frames}); it must be dynamic")


def _check_state(path: Path, inputs: dict, outputs: dict) -> dict[str, tuple[int, ...]]:
    ins = {n[len(STATE_IN_PREFIX):]: v for n, v in inputs.items() if n.startswith(STATE_IN_PREFIX)}
    outs = {n[len(STATE_OUT_PREFIX):]: v for n, v in outputs.items() if n.startswith(STATE_OUT_PREFIX)}
    for key in sorted(set(ins) ^ set(outs)):
        have, lack = (f"state_in_{key}", f"state_out_{key}") if key in ins else (f"state_out_{key}", f"state_in_{key}")
        raise StyleFormatError(f"{path}: unpaired state: '{have}' has no '{lack}'")
    shapes: dict[str, tuple[int, ...]] = {}
    for key in sorted(ins):
        dims_in, dims_out = _dims(ins[key]), _dims(outs[key])
        for name, dims in ((f"state_in_{key}", dims_in), (f"state_out_{key}", dims_out)):
            if dims is None or any(d is None for d in dims):
                raise StyleFormatError(f"{path}: state '{name}' must have a static shape, got {dims}")
        if dims_in != dims_out:
            raise StyleFormatError(
                f"{path}: state '{key}' changes shape: state_in {dims_in} vs state_out {dims_out}"
            )
        shapes[key] = tuple(int(d) for d in dims_in)  # type: ignore[arg-type]
    return shapes


def load_style(path: str | os.PathLike[str]) -> Style:
    """Read ``path`` and return a Style, or raise StyleFormatError naming the fault."""
    path = Path(path)
    model = _read_model(path)
    opset = _check_operators(path, model)
    _check_external_data(path, model)
    manifest = parse_manifest(_manifest_text(model), str(path))

    initializers = {t.name for t in model.graph.initializer}
    inputs = {v.name: v for v in model.graph.input if v.name not in initializers}
    outputs = {v.name: v for v in model.graph.output}
    for kind, table in (("input", inputs), ("output", outputs)):
        for info in table.values():
            _check_float32(path, kind, info)
    for name, table in ((AUDIO_IN, inputs), (AUDIO_OUT, outputs)):
        if name not in table:
            raise StyleFormatError(f"{path}: no '{name}' {'input' if table is inputs else 'output'}")
        _check_audio(path, table[name], manifest)

    known_inputs = {AUDIO_IN, PARAMS}
    for name in inputs:
        if name not in known_inputs and not name.startswith(STATE_IN_PREFIX):
            raise StyleFormatError(f"{path}: unknown input '{name}' (allowed: audio_in, params, state_in_<k>)")
    for name in outputs:
        if name != AUDIO_OUT and not name.startswith(STATE_OUT_PREFIX):
            raise StyleFormatError(f"{path}: unknown output '{name}' (allowed: audio_out, state_out_<k>)")
    state_shapes = _check_state(path, inputs, outputs)

    has_params = PARAMS in inputs
    declared = len(manifest.params)
    if has_params:
        dims = _dims(inputs[PARAMS])
        if dims is None or len(dims) != 1 or dims[0] != declared:
            raise StyleFormatError(
                f"{path}: 'params' input has shape {dims} but the manifest declares {declared} knob(s)"
            )
    elif declared:
        raise StyleFormatError(f"{path}: the manifest declares {declared} knob(s) but there is no 'params' input")

    return Style(
        path=path,
        manifest=manifest,
        state_shapes=state_shapes,
        has_params=has_params,
        opset=opset,
        size_bytes=path.stat().st_size,
    )
