"""Runs one style with ONNX Runtime, carrying its explicit streaming state between calls.

Inputs and outputs are bound once to preallocated buffers (IOBinding), so a call with the
same frame count as the last one allocates nothing and costs only the graph itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort

from realtime.errors import ConfigError, StyleFormatError
from realtime.format.style import AUDIO_IN, AUDIO_OUT, PARAMS, STATE_IN_PREFIX, STATE_OUT_PREFIX, Style

PROVIDER_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def round_up(frames: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= ``frames``."""
    return frames + (-frames % multiple)


def session_providers(provider: str) -> list[str]:
    """ONNX Runtime providers for 'cpu' or 'cuda' (CUDA falls back to CPU when absent)."""
    if provider not in PROVIDER_NAMES:
        raise ConfigError(f"unknown execution provider '{provider}' (choose from: {', '.join(PROVIDER_NAMES)})")
    if provider == "cuda":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def open_session(style: Style, provider: str = "cpu", threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    providers = session_providers(provider)
    try:
        return ort.InferenceSession(str(style.path), options, providers=providers)
    except Exception as exc:  # ORT raises its own exception types for every load failure
        newer = IR_REFUSAL.search(str(exc))
        if newer:
            return _open_at_older_ir(style, options, providers, int(newer[1]), int(newer[2]))
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StyleFormatError(f"{style.path}: ONNX Runtime cannot load it: {first_line}") from None


#: how ONNX Runtime refuses a file saved by a newer ``onnx`` package than it reads
IR_REFUSAL = re.compile(r"Unsupported model IR version: (\d+), max supported IR version: (\d+)")


def _open_at_older_ir(style: Style, options, providers, file_ir: int, readable_ir: int) -> ort.InferenceSession:
    """A style saved at a newer IR version than this ONNX Runtime reads (``onnx.helper.make_model``
    writes the newest by default): opened at the newest IR it reads when the graph's opsets
    need nothing newer (the file is not changed); refused in one line otherwise."""
    model = onnx.load(str(style.path))  # with its external data, from the style's folder
    needed = onnx.helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True)
    if needed > readable_ir:
        opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
        raise StyleFormatError(
            f"{style.path}: ONNX IR version {file_ir} with opset {opsets} (needs IR {needed}); this ONNX Runtime "
            f"{ort.__version__} reads up to IR {readable_ir}: upgrade onnxruntime, or export at an opset IR "
            f"{readable_ir} covers"
        )
    model.ir_version = readable_ir
    try:
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StyleFormatError(f"{style.path}: ONNX Runtime cannot load it (saved at IR {file_ir}): {first_line}") from None


class StyleRunner:
    """One style's session and state.

    Write the input into ``input_view(frames)``, call ``run(frames)``, read the returned
    ``[channels, frames]`` view (valid until the next call). ``frames`` must be a positive
    multiple of the style's ``block_multiple`` and at most ``max_frames``.
    """

    def __init__(self, style: Style, max_frames: int, provider: str = "cpu", threads: int = 1, session=None) -> None:
        manifest = style.manifest
        if max_frames < manifest.block_multiple:
            raise ConfigError(f"max_frames {max_frames} is below the style's block multiple {manifest.block_multiple}")
        self.style = style
        self.channels = manifest.channels
        self.block_multiple = manifest.block_multiple
        self.max_frames = max_frames - max_frames % manifest.block_multiple
        self.sample_rate = manifest.sample_rate
        self.latency_samples = manifest.latency_samples
        #: a session may be shared by runners (each has its own binding, state and buffers)
        self._session = session if session is not None else open_session(style, provider, threads)
        self.provider = self._session.get_providers()[0]
        self._in_flat = np.zeros(self.channels * self.max_frames, np.float32)
        self._out_flat = np.zeros(self.channels * self.max_frames, np.float32)
        self._state_in = {k: np.zeros(s, np.float32) for k, s in style.state_shapes.items()}
        self._state_out = {k: np.zeros(s, np.float32) for k, s in style.state_shapes.items()}
        self._params = np.array([p.default for p in manifest.params], np.float32)
        self._binding = self._session.io_binding()
        for key, buffer in self._state_in.items():
            self._bind(True, STATE_IN_PREFIX + key, buffer)
        for key, buffer in self._state_out.items():
            self._bind(False, STATE_OUT_PREFIX + key, buffer)
        if style.has_params:
            self._bind(True, PARAMS, self._params)
        self._bound_frames = 0
        self.non_finite_resets = 0
        self.fresh = True  # no audio has gone through since the last reset

    @property
    def session(self) -> ort.InferenceSession:
        return self._session

    @property
    def buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """The flat input and output buffers (fixed for the runner's life; planar, row stride = frames)."""
        return self._in_flat, self._out_flat

    def _bind(self, is_input: bool, name: str, buffer: np.ndarray) -> None:
        bind = self._binding.bind_input if is_input else self._binding.bind_output
        bind(name, "cpu", 0, np.float32, list(buffer.shape), buffer.ctypes.data)

    def input_view(self, frames: int) -> np.ndarray:
        """The buffer to fill before ``run(frames)``: ``[channels, frames]``."""
        return self._in_flat[: self.channels * frames].reshape(self.channels, frames)

    def run(self, frames: int) -> np.ndarray:
        """Run the style on ``input_view(frames)``; returns ``[channels, frames]`` output.

        A non-finite output or state resets the state to zeros, zeroes this output and is
        counted in ``non_finite_resets``."""
        if frames != self._bound_frames:
            if frames <= 0 or frames > self.max_frames or frames % self.block_multiple:
                raise ValueError(
                    f"{frames} frames: must be a positive multiple of {self.block_multiple} up to {self.max_frames}"
                )
            self._bind(True, AUDIO_IN, self.input_view(frames))
            self._bind(False, AUDIO_OUT, self._out_flat[: self.channels * frames].reshape(self.channels, frames))
            self._bound_frames = frames
        self._session.run_with_iobinding(self._binding)
        self.fresh = False
        out = self._out_flat[: self.channels * frames].reshape(self.channels, frames)
        finite = math.isfinite(float(out.sum()))
        for key, buffer in self._state_out.items():
            finite = finite and math.isfinite(float(buffer.sum()))
            self._state_in[key][...] = buffer
        if not finite:
            out[...] = 0.0
            self.reset()
            self.non_finite_resets += 1
        return out

    def reset(self) -> None:
        """Back to the all-zero starting state."""
        for buffer in self._state_in.values():
            buffer[...] = 0.0
        self.fresh = True

    def warm_up(self, frames: int | None = None, calls: int = 1) -> None:
        """Run on silence ``calls`` times (the first calls of a session, and the first on a new
        thread, are slow), then reset. Only while no audio goes through this runner."""
        frames = frames or self.block_multiple
        for _ in range(calls):
            self.input_view(frames)[...] = 0.0
            self.run(frames)
        self.reset()

    @property
    def params(self) -> np.ndarray:
        """The knob values fed to the style (written in place by ``set_params``)."""
        return self._params

    def set_params(self, values: Sequence[float]) -> None:
        specs = self.style.manifest.params
        if len(values) != len(specs):
            raise ConfigError(f"style '{self.style.name}' takes {len(specs)} knob value(s), got {len(values)}")
        for index, (spec, value) in enumerate(zip(specs, values)):
            self._params[index] = spec.clamp(value)
