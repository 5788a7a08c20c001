"""A rack's styles in series, run by the style worker as one unit.

``Chain`` looks to the wet path like a single style runner (``input_view``, ``run``,
``block_multiple``, ``latency_samples``...). Inside, every slot feeds its style, then
mixes the style's wet with its own input delayed by that style's latency (native
``sr_chain_slot_mix``: a delay line, a smoothed mix and a peak meter), so a slot at any
mix is free of comb filtering and the chain's latency is the sum of its slots'. A slot
whose style could not be loaded is empty: it passes its input through and says why.

Only the worker thread (or an offline ``process``) runs a chain; control threads change
a slot's mix, bypass and knobs by setting targets.
"""

from __future__ import annotations

import math

import numpy as np

from realtime.engine.runner import StyleRunner
from realtime.errors import ConfigError
from realtime.format.rack import SlotSpec
from realtime.format.style import Style
from realtime.native import ffi, float_ptr, lib

#: a slot's mix moves from 0 to 1 in this long (a linear ramp)
SLOT_RAMP_SECONDS = 0.01


class ChainSlot:
    def __init__(
        self,
        spec: SlotSpec,
        style: Style | None,
        runner: StyleRunner | None,
        channels: int,
        max_frames: int,
        sample_rate: int,
        note: str | None = None,
    ) -> None:
        self.spec = spec
        self.style = style
        self.runner = runner
        self.note = note  # why the slot is empty (or what to know about it)
        self.name = style.name if style is not None else spec.style_name
        self.latency_samples = style.manifest.latency_samples if runner is not None else 0
        ramp = max(1, round(SLOT_RAMP_SECONDS * sample_rate))
        native = lib.sr_chain_slot_new(channels, self.latency_samples, max_frames, ramp)
        if native == ffi.NULL:
            raise MemoryError("cannot allocate a rack slot")
        self._native = ffi.gc(native, lib.sr_chain_slot_delete)
        self.out = np.zeros(channels * max_frames, np.float32)
        self._out_ptr = float_ptr(self.out)
        if runner is not None:
            style_in, style_out = runner.buffers
            self._style_in, self._style_out = float_ptr(style_in), float_ptr(style_out)
        self._apply_mix()
        lib.sr_chain_slot_jump(self._native)

    @property
    def empty(self) -> bool:
        return self.runner is None

    def set_mix(self, mix: float) -> None:
        self.spec.mix = min(1.0, max(0.0, float(mix)))
        self._apply_mix()

    def set_bypass(self, bypass: bool) -> None:
        self.spec.bypass = bool(bypass)
        self._apply_mix()

    def _apply_mix(self) -> None:
        lib.sr_chain_slot_set_mix(self._native, 0.0 if self.spec.bypass else self.spec.mix)

    def take_peak(self) -> float:
        return float(lib.sr_chain_slot_take_peak(self._native))

    def reset(self) -> None:
        lib.sr_chain_slot_reset(self._native)
        lib.sr_chain_slot_jump(self._native)

    def process(self, source: np.ndarray, source_ptr, frames: int):
        """Run on ``frames`` of ``source`` (planar, row stride = frames); returns (array, pointer)
        of the slot's output."""
        runner = self.runner
        if runner is None:
            return source, source_ptr
        lib.sr_chain_slot_feed(self._native, source_ptr, self._style_in, runner.channels, frames)
        runner.run(frames)
        lib.sr_chain_slot_mix(self._native, source_ptr, self._style_out, runner.channels, self._out_ptr, frames)
        return self.out, self._out_ptr


class Chain:
    """Slots in series at one sample rate, seen by the wet path as one style."""

    def __init__(self, slots: list[ChainSlot], sample_rate: int, channels: int, block_multiple: int, max_frames: int):
        self.slots = slots
        self.sample_rate = sample_rate
        self.channels = channels
        self.block_multiple = block_multiple
        self.max_frames = max_frames
        self.latency_samples = sum(s.latency_samples for s in slots)
        self._in = np.zeros(channels * max_frames, np.float32)
        self._in_ptr = float_ptr(self._in)
        self.provider = next((s.runner.provider for s in slots if s.runner), "CPUExecutionProvider")

    @property
    def runners(self) -> list[StyleRunner]:
        return [s.runner for s in self.slots if s.runner is not None]

    def input_view(self, frames: int) -> np.ndarray:
        return self._in[: self.channels * frames].reshape(self.channels, frames)

    def run(self, frames: int) -> np.ndarray:
        if frames <= 0 or frames > self.max_frames or frames % self.block_multiple:
            raise ValueError(f"{frames} frames: must be a positive multiple of {self.block_multiple} up to {self.max_frames}")
        data, pointer = self._in, self._in_ptr
        for slot in self.slots:
            data, pointer = slot.process(data, pointer, frames)
        return data[: self.channels * frames].reshape(self.channels, frames)

    @property
    def fresh(self) -> bool:
        return any(r.fresh for r in self.runners)

    @property
    def non_finite_resets(self) -> int:
        return sum(r.non_finite_resets for r in self.runners)

    def reset(self) -> None:
        for runner in self.runners:
            runner.reset()
        for slot in self.slots:
            slot.reset()

    def warm_up(self, frames: int | None = None, calls: int = 1) -> None:
        """Run every style on silence (first calls are slow), then reset. No audio may be
        going through the chain."""
        frames = frames or self.block_multiple
        for runner in self.runners:
            runner.warm_up(frames - frames % runner.block_multiple or runner.block_multiple, calls)
        self.reset()


def lcm_all(values) -> int:
    result = 1
    for value in values:
        result = result * value // math.gcd(result, value)
    return result


def check_slot_channels(channels: list[int], names: list[str]) -> int:
    """The rack's channel count: the widest style's; the others must be mono or as wide."""
    width = max(channels)
    for number, (count, name) in enumerate(zip(channels, names), 1):
        if count not in (1, width):
            raise ConfigError(
                f"slot {number} ({name}) has {count} channels; in a rack of {width}-channel styles a style "
                f"must have 1 or {width}"
            )
    return width
