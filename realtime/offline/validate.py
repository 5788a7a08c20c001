"""``stylerack validate``: the checks a style must pass beyond its format.

1. It loads (format) and ONNX Runtime opens it.
2. Streaming equals one call: noise in blocks of 1, 64, 441 and 4096 frames (rounded up
   to the style's block multiple) against one call on the whole signal.
3. Its declared latency is true: an impulse at input frame n first changes the output at
   frame n + latency_samples (compared with the same run on silence, so a style that
   adds its own noise is still measured). A style that makes new sound from its input's
   features (a timbre style: ``latency_probe: "onset"``) is measured with a tone's onset
   instead: the time from the input's RMS envelope reaching half its steady level to the
   output's doing so, within ``ONSET_TOLERANCE_S`` (a 220 Hz tone, or the manifest's
   ``latency_probe_hz``). Either is measured at the knob values in
   ``latency_probe_params`` where the manifest has them (a denoiser at strength 0: a pure delay).
4. Its cost: median time of one call on a 128-frame block (rounded up to the block
   multiple), as a fraction of that block's duration.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from realtime.errors import StyleFormatError, StyleRackError
from realtime.engine.runner import StyleRunner, round_up
from realtime.format.manifest import DEFAULT_PROBE_HZ
from realtime.format.style import Style, load_style

STREAM_BLOCKS = (1, 64, 441, 4096)
STREAM_SECONDS = 0.5
STREAM_TOLERANCE = 1e-5
IMPULSE_AT = 4096
IMPULSE_THRESHOLD = 1e-3  # of the response's peak
ONSET_WINDOW_S = 0.005
ONSET_TOLERANCE_S = 0.001
COST_BLOCK = 128
COST_CALLS = 300


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ValidationReport:
    path: str
    style: Style | None = None
    checks: list[Check] = field(default_factory=list)
    cost_us_per_block: float | None = None
    real_time_factor: float | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def run_blocks(runner: StyleRunner, audio: np.ndarray, block: int) -> np.ndarray:
    """Stream ``audio: [channels, n]`` through ``runner`` from zero state in blocks of ``block``."""
    runner.reset()
    out = np.zeros_like(audio)
    for start in range(0, audio.shape[1], block):
        frames = min(block, audio.shape[1] - start)
        runner.input_view(frames)[...] = audio[:, start : start + frames]
        out[:, start : start + frames] = runner.run(frames)
    return out


def run_aligned(runner: StyleRunner, audio: np.ndarray, block: int) -> np.ndarray:
    """Mono ``audio`` on every channel of ``runner``, from zero state in blocks of ``block``
    (rounded up to the style's block multiple), its declared latency removed: the channels'
    average, as long as ``audio`` and aligned with it."""
    latency = runner.latency_samples
    block = round_up(block, runner.block_multiple)
    padded = np.zeros((runner.channels, round_up(len(audio) + latency, block)), np.float32)
    padded[:, : len(audio)] = audio
    return run_blocks(runner, padded, block).mean(axis=0)[latency : latency + len(audio)]


def check_streaming(runner: StyleRunner, sample_rate: int) -> Check:
    multiple = runner.block_multiple
    frames = round_up(int(STREAM_SECONDS * sample_rate), math.lcm(4096, multiple))
    noise = np.random.default_rng(1234).uniform(-0.5, 0.5, (runner.channels, frames)).astype(np.float32)
    whole = run_blocks(runner, noise, frames)
    worst, where = 0.0, None
    sizes = []
    for block in STREAM_BLOCKS:
        size = round_up(block, multiple)
        sizes.append(size)
        diff = float(np.abs(run_blocks(runner, noise, size) - whole).max())
        if diff > worst:
            worst, where = diff, size
    detail = f"blocks {sizes} vs one call: max |diff| {worst:.2e}"
    if worst > STREAM_TOLERANCE:
        detail += f" (worst at block {where}; limit {STREAM_TOLERANCE:.0e})"
    return Check("streaming equals one call", worst <= STREAM_TOLERANCE, detail)


def measure_latency(runner: StyleRunner, declared: int) -> tuple[int | None, Check]:
    multiple = runner.block_multiple
    frames = round_up(IMPULSE_AT + declared + 4096, multiple)
    silence = np.zeros((runner.channels, frames), np.float32)
    impulse = silence.copy()
    impulse[:, IMPULSE_AT] = 1.0
    block = round_up(256, multiple)
    response = np.abs(run_blocks(runner, impulse, block) - run_blocks(runner, silence, block)).max(axis=0)
    peak = float(response.max())
    if peak <= 1e-7:
        return None, Check("declared latency", False, "no response to an impulse; latency cannot be measured")
    measured = int(np.argmax(response > IMPULSE_THRESHOLD * peak)) - IMPULSE_AT
    ok = measured == declared
    return measured, Check("declared latency", ok, f"impulse response starts at {measured} samples, declared {declared}")


def _half_level_crossing(signal: np.ndarray, window: int, steady: slice) -> int | None:
    power = np.convolve(signal.astype(np.float64) ** 2, np.ones(window) / window)[: len(signal)]
    envelope = np.sqrt(power)
    level = float(envelope[steady].mean())
    if level <= 1e-6:
        return None
    return int(np.argmax(envelope >= 0.5 * level))


def onset_delay(run, sample_rate: int, frequency_hz: float = DEFAULT_PROBE_HZ, level: float = 0.3) -> int | None:
    """Samples between a tone's onset at the input and at the output of ``run`` (a function
    from a mono signal to a mono signal), each where its RMS envelope (``ONSET_WINDOW_S``)
    first reaches half its steady level (0.2-0.4 s after the onset). None: no output."""
    start = int(0.25 * sample_rate)
    frames = start + int(0.6 * sample_rate)
    frames = round_up(frames, 4096)
    t = np.arange(frames - start) / sample_rate
    tone = np.zeros(frames, np.float32)
    tone[start:] = level * sum(np.sin(2 * np.pi * frequency_hz * k * t) / k for k in range(1, 6))
    window = int(ONSET_WINDOW_S * sample_rate)
    steady = slice(start + int(0.2 * sample_rate), start + int(0.4 * sample_rate))
    heard = _half_level_crossing(np.asarray(run(tone)), window, steady)
    if heard is None:
        return None
    return heard - _half_level_crossing(tone, window, steady)


def measure_onset_latency(runner: StyleRunner, declared: int, sample_rate: int,
                          frequency_hz: float = DEFAULT_PROBE_HZ) -> tuple[int | None, Check]:
    def run(mono: np.ndarray) -> np.ndarray:
        audio = np.repeat(mono[None, :], runner.channels, axis=0)
        return run_blocks(runner, audio, round_up(256, runner.block_multiple)).mean(axis=0)

    measured = onset_delay(run, sample_rate, frequency_hz)
    if measured is None:
        return None, Check("declared latency", False, "no output for a tone; latency cannot be measured")
    tolerance = int(ONSET_TOLERANCE_S * sample_rate)
    ok = abs(measured - declared) <= tolerance
    detail = (f"{frequency_hz:g} Hz tone's onset reaches half level {measured} samples later, declared {declared} "
              f"(tolerance {tolerance})")
    return measured, Check("declared latency", ok, detail)


def measure_cost(runner: StyleRunner, sample_rate: int) -> tuple[float, float]:
    block = round_up(COST_BLOCK, runner.block_multiple)
    runner.reset()
    noise = np.random.default_rng(7).uniform(-0.5, 0.5, (runner.channels, block)).astype(np.float32)
    times = np.zeros(COST_CALLS)
    for index in range(COST_CALLS):
        runner.input_view(block)[...] = noise
        started = time.perf_counter()
        runner.run(block)
        times[index] = time.perf_counter() - started
    median_s = float(np.median(times[COST_CALLS // 10 :]))
    return median_s * 1e6, median_s / (block / sample_rate)


def validate(path: str | os.PathLike[str]) -> ValidationReport:
    """Raises StyleNotFoundError for a missing file; a refused style is a failed check."""
    report = ValidationReport(str(path))
    try:
        style = load_style(path)
        report.style = style
        report.checks.append(Check("format", True, f"'{style.name}', opset {style.opset}, {style.size_bytes} bytes"))
        runner = StyleRunner(style, max_frames=65536)
        report.checks.append(Check("ONNX Runtime opens it", True, runner.provider))
    except StyleFormatError as exc:
        report.checks.append(Check("format", False, str(exc)))
        return report
    rate = style.manifest.sample_rate
    report.checks.append(check_streaming(runner, rate))
    runner.set_params(style.manifest.probe_values())
    if style.manifest.latency_probe == "onset":
        _, latency_check = measure_onset_latency(runner, style.manifest.latency_samples, rate,
                                                 style.manifest.latency_probe_hz)
    else:
        _, latency_check = measure_latency(runner, style.manifest.latency_samples)
    runner.set_params([p.default for p in style.manifest.params])
    report.checks.append(latency_check)
    report.cost_us_per_block, report.real_time_factor = measure_cost(runner, rate)
    return report


def validate_rack(path: str | os.PathLike[str], styles_dirs=()) -> ValidationReport:
    """A rack file: every slot's style loads and fits, the chain streams exactly, its
    latency (the sum of its slots') is true, and its cost. Raises RackFormatError for a
    broken file; an empty slot or a refused style is a failed check."""
    from realtime.engine.strip import build_chain
    from realtime.format.catalog import resolve
    from realtime.format.rack import read_rack

    rack = read_rack(path)
    report = ValidationReport(str(path))
    try:
        chain, _, _ = build_chain(rack, block_frames=COST_BLOCK, resolve=lambda name: resolve(name, styles_dirs),
                                  min_frames=65536)
    except StyleRackError as exc:
        report.checks.append(Check("slots load", False, str(exc)))
        return report
    names = " > ".join(s.name for s in chain.slots) or "(no slots)"
    empty = [s for s in chain.slots if s.empty]
    report.checks.append(Check("slots load", not empty, f"{len(chain.slots)} slot(s): {names}"))
    for slot in chain.slots:
        if slot.note:  # an empty slot fails; a style changed since the rack was saved is said
            report.checks.append(Check("note", not slot.empty, slot.note))
    if not chain.runners:
        return report
    rate = chain.sample_rate
    report.checks.append(check_streaming(chain, rate))
    declared = chain.latency_samples
    for slot in chain.slots:
        if not slot.empty and slot.style.manifest.latency_probe_params:
            slot.runner.set_params(slot.style.manifest.probe_values())
    onset_slots = [s for s in chain.slots if not s.empty and s.style.manifest.latency_probe == "onset"]
    if onset_slots:  # at the first such slot's probe tone
        _, latency_check = measure_onset_latency(chain, declared, rate, onset_slots[0].style.manifest.latency_probe_hz)
    else:
        _, latency_check = measure_latency(chain, declared)
    parts = " + ".join(str(s.latency_samples) for s in chain.slots)
    latency_check.detail += f" ({parts})"
    report.checks.append(latency_check)
    report.cost_us_per_block, report.real_time_factor = measure_cost(chain, rate)
    return report
