"""Export a trained model to the style format, and verify it before writing the file.

Checks (all must pass, or nothing is written):
  1. PyTorch ``forward`` vs ONNX Runtime, one call on the same input: max |diff| <= 1e-4;
  2. ONNX streamed in blocks of 1, 64, 441 and 4096 (rounded up to the block multiple) vs
     one call: max |diff| <= 1e-5;
  3. ``stylerack validate`` (format, streaming, declared latency by impulse or tone onset).
Checkpoints are small ``.pt`` files: architecture name, knob count, weights and manifest.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from models.arch import build
from models.denoise import ARCH as DENOISE_ARCH
from models.denoise import DenoiseModel
from models.timbre import ARCH as TIMBRE_ARCH
from models.timbre import TimbreModel
from realtime.errors import StyleRackError
from realtime.format.manifest import MANIFEST_KEY, parse_manifest
from realtime.engine.runner import StyleRunner
from realtime.format.style import load_style
from realtime.offline.validate import run_blocks, validate

OPSET = 17
PARITY_TOLERANCE = 1e-4
STREAM_TOLERANCE = 1e-5
STREAM_BLOCKS = (1, 64, 441, 4096)


class ExportError(StyleRackError):
    """The exported style failed a check; nothing was written."""


class _OnnxStep(nn.Module):
    """The style format's signature around ``model.step``: [1, T] audio, [P] params, states."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.has_params = model.num_params > 0

    def forward(self, audio_in: torch.Tensor, *rest: torch.Tensor):
        if self.has_params:
            params, states = rest[0][None, :], rest[1:]
        else:
            params, states = audio_in.new_zeros(1, 0), rest
        out, *new_states = self.model.step(audio_in[None], params, *states)
        return (out[0], *new_states)


@dataclass(frozen=True)
class ExportReport:
    path: Path
    torch_vs_onnx_max_abs: float
    stream_vs_call_max_abs: float
    size_bytes: int
    cost_us_per_block: float
    real_time_factor: float

    def numbers(self) -> dict:
        """The checks' numbers, under the key names the training reports use."""
        return {
            "torch_vs_onnx_max_abs": self.torch_vs_onnx_max_abs,
            "stream_vs_call_max_abs": self.stream_vs_call_max_abs,
            "size_bytes": self.size_bytes,
            "cost_us_per_128_block": self.cost_us_per_block,
            "real_time_factor": self.real_time_factor,
        }


def save_checkpoint(model: nn.Module, manifest: dict, path: Path) -> None:
    payload = {
        "arch": model.arch, "num_params": model.num_params, "config": getattr(model, "config", {}),
        "state_dict": model.state_dict(), "manifest": manifest,
    }
    torch.save(payload, path)


def load_checkpoint(path: Path) -> tuple[nn.Module, dict]:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload["arch"] == TIMBRE_ARCH:
        model = TimbreModel(**payload["config"])
    elif payload["arch"] == DENOISE_ARCH:
        model = DenoiseModel(**{"filter_bins": 0, **payload["config"]})  # checkpoints from before the deep filter
    else:
        model = build(payload["arch"], payload["num_params"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, payload["manifest"]


def _write_onnx(model: nn.Module, manifest: dict, path: Path) -> None:
    wrapper = _OnnxStep(model).eval()
    states = model.initial_state(1)
    multiple = manifest["block_multiple"]
    audio = torch.zeros(1, 256 + (-256 % multiple))  # a whole number of the style's blocks
    args = [audio]
    names = ["audio_in"]
    if wrapper.has_params:
        args.append(torch.tensor([p["default"] for p in manifest["params"]], dtype=torch.float32))
        names.append("params")
    args += states
    names += [f"state_in_{k}" for k in range(len(states))]
    outputs = ["audio_out"] + [f"state_out_{k}" for k in range(len(states))]
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            tuple(args),
            str(path),
            input_names=names,
            output_names=outputs,
            dynamic_axes={"audio_in": {1: "frames"}, "audio_out": {1: "frames"}},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    for output in proto.graph.output:  # slices of a dynamic axis lose their static size: restore it
        if output.name.startswith("state_out_"):
            shape = states[int(output.name[len("state_out_"):])].shape
            dims = output.type.tensor_type.shape.dim
            for dim, size in zip(dims, shape):
                dim.ClearField("dim_param")
                dim.dim_value = int(size)
    _share_repeated_constants(proto.graph)
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = MANIFEST_KEY, json.dumps(manifest)
    onnx.save(proto, str(path))


def _share_repeated_constants(graph: onnx.GraphProto, smallest: int = 1024) -> None:
    """One Constant node for each distinct large tensor: the exporter writes a buffer once per
    place it is read (a DFT matrix read by the analysis and the synthesis would be stored twice)."""
    first: dict[tuple, str] = {}
    renamed: dict[str, str] = {}
    kept = []
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = node.attribute[0].t
            if np.prod(tensor.dims) >= smallest:
                key = (tensor.data_type, tuple(tensor.dims), tensor.raw_data)
                if key in first:
                    renamed[node.output[0]] = first[key]
                    continue
                first[key] = node.output[0]
        kept.append(node)
    for node in kept:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]
    del graph.node[:]
    graph.node.extend(kept)


def _verify(model: nn.Module, manifest: dict, path: Path) -> tuple[float, float]:
    style = load_style(path)
    runner = StyleRunner(style, max_frames=48000)
    params = [p["default"] for p in manifest["params"]]
    runner.set_params(params)
    rng = np.random.default_rng(5)
    noise = rng.uniform(-0.5, 0.5, 48000) * np.linspace(0.1, 1, 48000)
    glide = 0.4 * np.sin(2 * np.pi * np.cumsum(np.geomspace(110, 880, 48000)) / 48000)  # pitched, for timbre styles
    signal = np.where(np.arange(48000) < 24000, noise, glide).astype(np.float32)[None, :]
    with torch.no_grad():
        reference = model(torch.from_numpy(signal)[None], torch.tensor([params], dtype=torch.float32))[0].numpy()
    one_call = run_blocks(runner, signal, signal.shape[1])
    parity = float(np.abs(one_call - reference).max())
    multiple = manifest["block_multiple"]
    blocks = [b + (-b % multiple) for b in STREAM_BLOCKS]
    streamed = max(float(np.abs(run_blocks(runner, signal, b) - one_call).max()) for b in blocks)
    return parity, streamed


def export_style(model: nn.Module, manifest: dict, out_path: Path, overwrite: bool = True) -> ExportReport:
    """Export, verify, then move into ``out_path``. Raises ExportError if a check fails."""
    model.eval()
    parse_manifest(json.dumps(manifest), str(out_path))  # a bad manifest fails before any work
    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        raise ExportError(f"{out_path}: already exists")
    handle, temp = tempfile.mkstemp(suffix=".onnx", dir=out_path.parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        _write_onnx(model, manifest, temp_path)
        try:
            parity, streamed = _verify(model, manifest, temp_path)
        except StyleRackError as exc:
            raise ExportError(f"{out_path}: {str(exc).replace(str(temp_path), 'the exported graph')}") from None
        if parity > PARITY_TOLERANCE:
            raise ExportError(f"{out_path}: PyTorch vs ONNX Runtime differ by {parity:.2e} (> {PARITY_TOLERANCE:.0e})")
        if streamed > STREAM_TOLERANCE:
            raise ExportError(f"{out_path}: streamed ONNX differs from one call by {streamed:.2e}")
        report = validate(temp_path)
        if not report.ok:
            failed = "; ".join(c.detail for c in report.checks if not c.ok)
            raise ExportError(f"{out_path}: validate failed: {failed}")
        os.chmod(temp_path, 0o644)  # mkstemp makes it private; a style is meant to be shared
        os.replace(temp_path, out_path)
    finally:
        temp_path.unlink(missing_ok=True)
    return ExportReport(
        out_path, parity, streamed, out_path.stat().st_size, report.cost_us_per_block, report.real_time_factor
    )
