"""Tiny hand-built styles (onnx.helper, no torch) for tests: identity, pure delay, gain knob.

Each builder writes one .onnx file in the style format and returns its path.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FRAMES = "frames"


def manifest(name: str, **overrides) -> dict:
    body = {
        "schema": 1,
        "name": name,
        "description": f"test style {name}",
        "category": "test",
        "sample_rate": 48000,
        "channels": 1,
        "block_multiple": 1,
        "latency_samples": 0,
        "params": [],
        "provenance": {"built_by": "tests/style_builders.py"},
    }
    body.update(overrides)
    return body


def audio_info(name: str, channels: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [channels, FRAMES])


def save_model(
    path: Path,
    nodes: list,
    inputs: list,
    outputs: list,
    manifest_body: dict | str | None,
    initializers: list | None = None,
    opset: int = 17,
    ir_version: int | None = 8,
) -> Path:
    """``ir_version`` None: what ``onnx.helper.make_model`` writes by default (the newest)."""
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=initializers or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        model.ir_version = ir_version
    if manifest_body is not None:
        text = manifest_body if isinstance(manifest_body, str) else json.dumps(manifest_body)
        helper.set_model_props(model, {"stylerack": text})
    onnx.save(model, str(path))
    return path


def make_identity(path: Path, channels: int = 1, block_multiple: int = 1, sample_rate: int = 48000) -> Path:
    nodes = [helper.make_node("Identity", ["audio_in"], ["audio_out"])]
    body = manifest(path.stem, channels=channels, block_multiple=block_multiple, sample_rate=sample_rate)
    return save_model(path, nodes, [audio_info("audio_in", channels)], [audio_info("audio_out", channels)], body)


def make_delay(path: Path, delay_samples: int, channels: int = 1, sample_rate: int = 48000, gain: float = 1.0) -> Path:
    """out[n] = gain * in[n - delay_samples]; the last delay_samples inputs are the state."""
    state_shape = [channels, delay_samples]
    init = [
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([-delay_samples], np.int64), "minus_d"),
        numpy_helper.from_array(np.array([np.iinfo(np.int64).max], np.int64), "end"),
    ]
    nodes = [
        helper.make_node("Concat", ["state_in_0", "audio_in"], ["joined"], axis=1),
        helper.make_node("Shape", ["audio_in"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["frames"], axis=0),
        helper.make_node("Slice", ["joined", "zero", "frames", "one"], ["delayed" if gain != 1.0 else "audio_out"]),
        helper.make_node("Slice", ["joined", "minus_d", "end", "one"], ["state_out_0"]),
    ]
    if gain != 1.0:
        init.append(numpy_helper.from_array(np.array(gain, np.float32), "gain"))
        nodes.append(helper.make_node("Mul", ["delayed", "gain"], ["audio_out"]))
    inputs = [audio_info("audio_in", channels), helper.make_tensor_value_info("state_in_0", TensorProto.FLOAT, state_shape)]
    outputs = [audio_info("audio_out", channels), helper.make_tensor_value_info("state_out_0", TensorProto.FLOAT, state_shape)]
    body = manifest(path.stem, channels=channels, latency_samples=delay_samples, sample_rate=sample_rate)
    return save_model(path, nodes, inputs, outputs, body, init)


def make_gain(path: Path, channels: int = 1, default_db: float = 0.0) -> Path:
    """out = in * 10 ** (params[0] / 20): one knob, gain in dB."""
    init = [
        numpy_helper.from_array(np.array(10.0, np.float32), "ten"),
        numpy_helper.from_array(np.array(20.0, np.float32), "twenty"),
    ]
    nodes = [
        helper.make_node("Div", ["params", "twenty"], ["exponent"]),
        helper.make_node("Pow", ["ten", "exponent"], ["linear"]),
        helper.make_node("Mul", ["audio_in", "linear"], ["audio_out"]),
    ]
    inputs = [audio_info("audio_in", channels), helper.make_tensor_value_info("params", TensorProto.FLOAT, [1])]
    body = manifest(
        path.stem,
        channels=channels,
        params=[{"name": "gain", "min": -24.0, "max": 24.0, "default": default_db, "unit": "dB"}],
    )
    return save_model(path, nodes, inputs, [audio_info("audio_out", channels)], body, init)


def make_nan_after(path: Path, good_frames: int) -> Path:
    """Passes audio through, then emits NaN once more than good_frames have gone by.

    Its state counts frames, so a host that resets the state gets good audio again.
    """
    init = [
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array(float(good_frames), np.float32), "limit"),
        numpy_helper.from_array(np.array(np.nan, np.float32), "nan"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("Shape", ["audio_in"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["frames_i"], axis=0),
        helper.make_node("Cast", ["frames_i"], ["frames_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["state_in_0", "frames_f"], ["state_out_0"]),
        helper.make_node("Greater", ["state_out_0", "limit"], ["bad"]),
        helper.make_node("Where", ["bad", "nan", "zero"], ["poison"]),
        helper.make_node("Add", ["audio_in", "poison"], ["audio_out"]),
    ]
    inputs = [audio_info("audio_in", 1), helper.make_tensor_value_info("state_in_0", TensorProto.FLOAT, [1, 1])]
    outputs = [audio_info("audio_out", 1), helper.make_tensor_value_info("state_out_0", TensorProto.FLOAT, [1, 1])]
    return save_model(path, nodes, inputs, outputs, manifest(path.stem), init)


def make_gru(path: Path, hidden: int = 32, seed: int = 0) -> Path:
    """A recurrent style with random weights (the cost of a small amp model, not its sound):
    audio -> ONNX GRU (hidden units, explicit state) -> linear -> tanh -> audio."""
    rng = np.random.default_rng(seed)
    weights = {
        "W": rng.normal(0, 0.5, (1, 3 * hidden, 1)),
        "R": rng.normal(0, 0.5 / np.sqrt(hidden), (1, 3 * hidden, hidden)),
        "B": np.zeros((1, 6 * hidden)),
        "head": rng.normal(0, 1 / np.sqrt(hidden), (hidden, 1)),
    }
    init = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    nodes = [
        helper.make_node("Transpose", ["audio_in"], ["x_t"], perm=[1, 0]),  # [frames, 1]
        helper.make_node("Unsqueeze", ["x_t", "one_axis"], ["x"]),  # [frames, 1, 1]
        helper.make_node("GRU", ["x", "W", "R", "B", "", "state_in_0"], ["y", "state_out_0"], hidden_size=hidden),
        helper.make_node("Squeeze", ["y", "squeeze_axes"], ["y2"]),  # [frames, hidden]
        helper.make_node("MatMul", ["y2", "head"], ["z"]),  # [frames, 1]
        helper.make_node("Transpose", ["z"], ["z_t"], perm=[1, 0]),
        helper.make_node("Tanh", ["z_t"], ["audio_out"]),
    ]
    init.append(numpy_helper.from_array(np.array([1], np.int64), "one_axis"))
    init.append(numpy_helper.from_array(np.array([1, 2], np.int64), "squeeze_axes"))
    inputs = [audio_info("audio_in", 1), helper.make_tensor_value_info("state_in_0", TensorProto.FLOAT, [1, 1, hidden])]
    outputs = [audio_info("audio_out", 1), helper.make_tensor_value_info("state_out_0", TensorProto.FLOAT, [1, 1, hidden])]
    body = manifest(path.stem, category="test", description=f"random GRU, {hidden} units (cost proxy)")
    return save_model(path, nodes, inputs, outputs, body, init)
