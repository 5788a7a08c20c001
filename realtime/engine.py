"""The streaming engine: what the audio callback runs, the same for live audio and files.

``Engine.process(indata, outdata)`` takes one device block (``[frames, channels]``, as
sounddevice hands it) and fills the output block. It copies, mixes and counts; it never
allocates block-sized arrays, blocks, logs or raises. In ``direct`` mode it also runs the
style; in ``buffered`` mode a worker thread does (see ``realtime.worker``).

Control methods (``set_mix``, ``set_style``...) may be called from any thread: they only
set plain values that the callback reads at its next block.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from realtime.dsp import SafetyLimiter, SmoothedValue, map_channels, sanitize
from realtime.errors import ConfigError
from realtime.ring import DelayLine
from realtime.stats import EngineStats, block_levels, block_rms
from realtime.strip import MAX_STYLE_CHANNELS, Latency, Strip, prepare_strip
from realtime.worker import StyleWorker

MODES = ("direct", "buffered")


@dataclass(frozen=True)
class EngineConfig:
    """How the engine meets the device. ``block_frames`` is the device block it plans for
    (blocks of other sizes up to ``max_block_frames`` still work, and are counted late if
    the wet path cannot keep up with them)."""

    sample_rate: int
    block_frames: int
    in_channels: int = 1
    out_channels: int = 1
    mode: str = "direct"
    margin_blocks: int = 2
    max_block_frames: int = 8192
    max_latency_seconds: float = 2.0
    crossfade_seconds: float = 0.03
    provider: str = "cpu"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode '{self.mode}' is not one of: {', '.join(MODES)}")
        if not 1 <= self.block_frames <= self.max_block_frames:
            raise ConfigError(f"block size {self.block_frames} is outside 1..{self.max_block_frames} frames")
        if self.sample_rate < 1000:
            raise ConfigError(f"sample rate {self.sample_rate} Hz is too low")
        if not 1 <= self.in_channels <= 64 or not 1 <= self.out_channels <= 64:
            raise ConfigError("channel counts must be between 1 and 64")
        if self.mode == "buffered" and self.margin_blocks < 1:
            raise ConfigError("buffered mode needs a margin of at least 1 block")

    @property
    def max_latency_frames(self) -> int:
        return int(self.max_latency_seconds * self.sample_rate) + self.max_block_frames


def db_to_gain(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.stats = EngineStats()
        rate, most = config.sample_rate, config.max_block_frames
        rows = max(config.in_channels, config.out_channels, MAX_STYLE_CHANNELS)
        self._input = np.zeros((rows, most), np.float32)
        self._style_in = np.zeros((rows, most), np.float32)
        self._wet = np.zeros((rows, most), np.float32)
        self._dry = np.zeros((config.out_channels, most), np.float32)
        self._mix = np.zeros((config.out_channels, most), np.float32)
        self._incoming_mix = np.zeros((config.out_channels, most), np.float32)
        self._mask = np.zeros((rows, most), bool)
        self._steps = np.arange(1, most + 1, dtype=np.float32)
        self._fade = np.zeros(most, np.float32)
        self._dry_line = DelayLine(config.out_channels, config.max_latency_frames)
        self._limiter = SafetyLimiter(config.out_channels, most)
        self._input_gain = SmoothedValue(1.0, rate, most)
        self._output_gain = SmoothedValue(1.0, rate, most)
        self._wet_amount = SmoothedValue(1.0, rate, most)
        self._mix_target = 1.0
        self._bypass = False
        self._current: Strip | None = None
        self._incoming: Strip | None = None
        self._pending: Strip | None = None
        self._retired: Strip | None = None  # set by the callback, released by collect()
        self._preroll_frames = 0
        self._fade_done_frames = 0
        self._fade_frames = max(1, int(config.crossfade_seconds * rate))
        self.worker = StyleWorker(self) if config.mode == "buffered" else None
        #: set to an AudioFifo([out_channels, n]) to receive a copy of the output (recording)
        self.tap = None

    # ---- control side (any thread but the audio thread) -------------------------------

    def prepare(self, style, params=None) -> Strip:
        """Load, check, open and warm up a style for this engine (slow; never on the audio thread)."""
        c = self.config
        return prepare_strip(
            style,
            sample_rate=c.sample_rate,
            block_frames=c.block_frames,
            max_block_frames=c.max_block_frames,
            buffered=c.mode == "buffered",
            margin_blocks=c.margin_blocks,
            max_latency_frames=c.max_latency_frames,
            provider=c.provider,
            params=params,
        )

    def set_style(self, strip: Strip) -> None:
        """Switch to a prepared style: the callback pre-rolls it, then crossfades to it.
        Before the first block, or with no style playing, it takes over at once."""
        self.collect()
        if self._current is None and self._incoming is None and self.stats.callbacks == 0:
            self._current = strip
        else:
            self._pending = strip

    def load(self, style, params=None) -> Strip:
        """prepare() then set_style(); returns the strip. A refused style raises and the
        one playing keeps playing."""
        strip = self.prepare(style, params)
        self.set_style(strip)
        return strip

    def collect(self) -> None:
        """Release styles the callback has retired (freeing them is not the audio thread's job)."""
        strip, self._retired = self._retired, None
        if strip is not None:
            self.stats.retired_non_finite_resets += strip.runner.non_finite_resets

    def set_mix(self, mix: float) -> None:
        """Wet share, 0.0 (dry) to 1.0 (all wet); smoothed."""
        self._mix_target = min(1.0, max(0.0, float(mix)))
        self._wet_amount.target = 0.0 if self._bypass else self._mix_target

    def set_bypass(self, bypass: bool) -> None:
        """Fade the wet out (or back in); the dry path keeps its delay so nothing jumps."""
        self._bypass = bool(bypass)
        self._wet_amount.target = 0.0 if self._bypass else self._mix_target

    def set_input_gain_db(self, gain_db: float) -> None:
        self._input_gain.target = db_to_gain(gain_db)

    def set_output_gain_db(self, gain_db: float) -> None:
        self._output_gain.target = db_to_gain(gain_db)

    def set_param(self, name: str, value: float) -> float:
        """Set the current style's knob; returns the value used (clamped to its range)."""
        strip = self._pending or self._incoming or self._current
        if strip is None:
            raise ConfigError("no style is loaded")
        manifest = strip.style.manifest
        try:
            index = manifest.param_index(name)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        used = manifest.params[index].clamp(value)
        strip.runner.params[index] = used
        return used

    def jump_to_targets(self) -> None:
        """Skip the smoothing of mix and gains (for an offline render that starts at its settings)."""
        for value in (self._input_gain, self._output_gain, self._wet_amount):
            value.jump(value.target)

    def non_finite_resets(self) -> int:
        """Style state resets after NaN/Inf, over every style this engine has played."""
        strips = (self._current, self._incoming, self._retired)  # a retired strip counts until collect() adds it up
        live = sum(s.runner.non_finite_resets for s in strips if s is not None)
        return self.stats.retired_non_finite_resets + live

    @property
    def current(self) -> Strip | None:
        return self._current

    @property
    def latency(self) -> Latency | None:
        """The latency of the style playing (or about to play, during a switch)."""
        strip = self._pending or self._incoming or self._current
        return strip.latency if strip else None

    def active_strips(self) -> tuple[Strip | None, Strip | None]:
        return self._current, self._incoming

    def start(self) -> None:
        if self.worker:
            self.worker.start()

    def stop(self) -> None:
        if self.worker:
            self.worker.stop()
        self.collect()

    # ---- audio side --------------------------------------------------------------------

    def process(self, indata: np.ndarray, outdata: np.ndarray) -> None:
        """The callback body. ``indata: [frames, in_channels]``, ``outdata: [frames, out_channels]``."""
        try:
            with np.errstate(all="ignore"):  # non-finite input is counted, never warned about
                self._process(indata, outdata)
        except Exception:  # never raise into PortAudio: count it and play silence
            self.stats.callback_errors += 1
            outdata.fill(0.0)

    def _process(self, indata: np.ndarray, outdata: np.ndarray) -> None:
        frames = indata.shape[0]
        stats = self.stats
        stats.callbacks += 1
        if frames > self.config.max_block_frames:
            raise ValueError("block larger than max_block_frames")
        x = self._input[: self.config.in_channels, :frames]
        x[...] = indata.T
        stats.non_finite_inputs += sanitize(x, self._mask[: x.shape[0], :frames])
        x *= self._input_gain.ramp(frames)
        stats.input_peak, stats.input_rms = block_levels(x)
        dry_in = self._dry[:, :frames]
        map_channels(x, dry_in)
        self._dry_line.write(dry_in)

        if self._pending is not None and self._incoming is None and self._retired is None:
            self._incoming, self._pending = self._pending, None
            self._preroll_frames = self._incoming.latency.total_frames + 2 * self.config.block_frames
            self._fade_done_frames = 0
        current, incoming = self._current, self._incoming
        for strip in (current, incoming):
            if strip is not None:
                style_in = self._style_in[: strip.wet.channels, :frames]
                map_channels(x, style_in)
                strip.wet.input.write(style_in)
        if self.worker is None:
            started = time.perf_counter()
            for strip in (current, incoming):
                if strip is not None:
                    strip.wet.pump()
            stats.record_style_time(time.perf_counter() - started)
        else:
            self.worker.wake()

        wet_amount = self._wet_amount.ramp(frames)
        out = self._mix[:, :frames]
        if current is None:
            self._dry_line.read_into(out, 0)
        elif not self._mix_strip(current, out, wet_amount):
            stats.note_late_block()
        if incoming is not None:
            self._crossfade(incoming, out, wet_amount, frames)
        out *= self._output_gain.ramp(frames)
        stats.non_finite_outputs += self._limiter.process(out)
        stats.output_peak, stats.output_rms = self._limiter.peak, block_rms(out)
        tap = self.tap
        if tap is not None:
            if tap.free() >= frames:
                tap.write(out)
            else:
                stats.tap_dropped_frames += frames
        outdata[...] = out.T

    def _mix_strip(self, strip: Strip, out: np.ndarray, wet_amount) -> bool:
        """out = dry + wet_amount * (wet - dry), the dry delayed by the strip's latency.
        Late wet is replaced by that aligned dry; returns False then."""
        frames = out.shape[1]
        dry = self._dry[:, :frames]
        self._dry_line.read_into(dry, strip.latency.total_frames)
        wet = self._wet[: strip.wet.channels, :frames]
        on_time = strip.wet.read_wet(wet)
        if not on_time:
            out[...] = dry
            return False
        map_channels(wet, out)
        out -= dry
        out *= wet_amount
        out += dry
        return True

    def _crossfade(self, incoming: Strip, out: np.ndarray, wet_amount, frames: int) -> None:
        other = self._incoming_mix[:, :frames]
        self._mix_strip(incoming, other, wet_amount)
        if self._preroll_frames > 0:
            self._preroll_frames -= frames
            return
        fade = self._fade[:frames]
        np.multiply(self._steps[:frames], 1.0 / self._fade_frames, out=fade)
        fade += self._fade_done_frames / self._fade_frames
        np.minimum(fade, 1.0, out=fade)
        other -= out
        other *= fade
        out += other
        self._fade_done_frames += frames
        if self._fade_done_frames >= self._fade_frames:
            self._retired, self._current, self._incoming = self._current, incoming, None
