"""A prepared style ready to play: its runner and wet path, warmed up, with its latency.

Preparing (loading, checking, opening the session, warming up) is slow and happens off
the audio thread; the engine only ever receives finished ``Strip`` objects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from realtime.errors import ConfigError
from realtime.engine.runner import StyleRunner, round_up
from realtime.format.style import Style, load_style
from realtime.engine.wetpath import WetPath

MAX_STYLE_CHANNELS = 8
WARMUP_CALLS = 4


@dataclass(frozen=True)
class Latency:
    """Where a strip's delay comes from, in device frames at ``sample_rate``.

    ``style_frames``: the style's own algorithmic delay (fractional when resampled);
    ``buffering_frames``: ring priming for the block multiple and the resampler's bursts;
    ``worker_frames``: buffered mode's margin of blocks; ``total_frames``: all of it,
    rounded to a whole frame, which is also how far the dry path is delayed."""

    sample_rate: int
    style_frames: float
    buffering_frames: int
    worker_frames: int
    total_frames: int

    @property
    def total_ms(self) -> float:
        return 1000.0 * self.total_frames / self.sample_rate

    def as_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "style_latency_samples": self.style_frames,
            "buffering_latency_samples": self.buffering_frames,
            "worker_latency_samples": self.worker_frames,
            "algorithmic_latency_samples": self.total_frames,
            "algorithmic_latency_ms": round(self.total_ms, 3),
        }


class Strip:
    """One style between the engine's input and its mixer."""

    def __init__(self, runner: StyleRunner, wet: WetPath, latency: Latency, chunk_frames: int) -> None:
        self.runner = runner
        self.chunk_frames = chunk_frames  # what the style runs on per device block (block multiple included)
        self.slot = None  # its place in the native engine, once an engine plays it
        self.wet = wet
        self.latency = latency
        self.name = runner.style.name

    @property
    def style(self) -> Style:
        return self.runner.style


def prepare_strip(
    style: Style | str | os.PathLike[str],
    *,
    sample_rate: int,
    block_frames: int,
    max_block_frames: int,
    buffered: bool,
    margin_blocks: int,
    max_latency_frames: int,
    provider: str = "cpu",
    params: Mapping[str, float] | None = None,
) -> Strip:
    """Load (if given a path), open, warm up and measure a style for the engine.

    Raises StyleFormatError for a refused style and ConfigError when it cannot fit this
    engine (too many channels, too much latency, an unknown knob)."""
    if not isinstance(style, Style):
        style = load_style(style)
    manifest = style.manifest
    if manifest.channels > MAX_STYLE_CHANNELS:
        raise ConfigError(f"{style.path}: {manifest.channels} channels; StyleRack runs styles of up to {MAX_STYLE_CHANNELS}")
    chunk = round_up(max(block_frames, manifest.block_multiple), manifest.block_multiple)
    runner = StyleRunner(style, max_frames=max(chunk, 4096), provider=provider)
    values = [p.default for p in manifest.params]
    for name, value in (params or {}).items():
        try:
            values[manifest.param_index(name)] = value
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
    runner.set_params(values)
    runner.warm_up(chunk, WARMUP_CALLS)  # first calls are slow: do them here, not with audio waiting
    wet = WetPath(runner, sample_rate, block_frames, max_block_frames)
    worker_frames = margin_blocks * block_frames if buffered else 0
    wet.output.write(0.0, worker_frames)
    total = wet.priming_frames + worker_frames + round(wet.style_latency_frames)
    latency = Latency(sample_rate, wet.style_latency_frames, wet.priming_frames, worker_frames, total)
    if total + max_block_frames > max_latency_frames:
        raise ConfigError(
            f"{style.path}: latency {total} frames is more than this engine holds ({max_latency_frames - max_block_frames})"
        )
    return Strip(runner, wet, latency, chunk)
