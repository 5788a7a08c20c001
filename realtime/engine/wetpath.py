"""The wet path of one style (or a rack of them): device-rate audio in, style out, device-rate audio out.

Rings decouple the device block from the style: the audio callback writes any number of
frames into ``input`` and reads any number from ``output``; ``pump()`` (in the callback in
direct mode, in a worker thread in buffered mode) runs the style on every whole multiple
of its ``block_multiple`` that has arrived, resampling on the way when the device rate
differs from the style's.

``output`` starts with ``priming_frames`` of silence: the fewest that keep it from ever
running dry at the configured block size, found by replaying the path's frame counts
(block multiple and resampler bursts) before any audio flows. That priming is the
buffering part of the latency, and it is exact.
"""

from __future__ import annotations

import math

import numpy as np

from realtime.engine.resample import DEFAULT_RESAMPLER, resampler_pair
from realtime.engine.ring import AudioFifo
from realtime.engine.runner import StyleRunner

PRIMING_REPLAY_SECONDS = 3.0
PRIMING_REPLAY_MAX_CALLS = 20_000


def replay_priming_frames(device_rate: int, style_rate: int, block_multiple: int, block_frames: int,
                          resampler: str = DEFAULT_RESAMPLER) -> int:
    """The silence the output ring needs so the callback never finds it short.

    Replays the frame counts of callbacks of ``block_frames`` through fresh resamplers
    and the block-multiple chunking (the counts do not depend on the audio)."""
    if device_rate == style_rate:
        return block_multiple - math.gcd(block_frames, block_multiple)
    calls = min(PRIMING_REPLAY_MAX_CALLS, math.ceil(PRIMING_REPLAY_SECONDS * device_rate / block_frames))
    most_style = math.ceil(block_frames * style_rate / device_rate) + 2 * block_multiple + 2
    down, up, _ = resampler_pair(resampler, device_rate, style_rate, 1, block_frames, most_style)
    block = np.zeros((1, block_frames), np.float32)
    silence = np.zeros((1, most_style), np.float32)
    pending_style = 0
    produced = 0
    shortfall = 0
    for call in range(1, calls + 1):
        pending_style += down.process(block).shape[1]
        chunk = pending_style - pending_style % block_multiple
        pending_style -= chunk
        if chunk > silence.shape[1]:  # soxr delivers in bursts larger than a block
            silence = np.zeros((1, 2 * chunk), np.float32)
        if chunk:
            produced += up.process(silence[:, :chunk]).shape[1]
        shortfall = max(shortfall, call * block_frames - produced)
    return shortfall


class WetPath:
    """One style between two device-rate rings. ``pump()`` runs on one thread only."""

    def __init__(self, runner: StyleRunner, device_rate: int, block_frames: int, max_block_frames: int,
                 resampler: str = DEFAULT_RESAMPLER) -> None:
        style_rate = runner.sample_rate
        self.runner = runner
        self.channels = runner.channels
        self.device_rate = device_rate
        self.resampling = device_rate != style_rate
        self.priming_frames = replay_priming_frames(
            device_rate, style_rate, runner.block_multiple, block_frames, resampler
        )
        #: the style's own delay in device frames (fractional when resampling)
        self.style_latency_frames = runner.latency_samples * device_rate / style_rate
        #: the resampler's round trip (device -> style -> device), a whole number of device frames
        self.resampling_frames = 0
        capacity = 4 * max(max_block_frames, runner.max_frames) + self.priming_frames + 8192
        self.input = AudioFifo(self.channels, capacity)
        self.output = AudioFifo(self.channels, capacity)
        self.output.write(0.0, self.priming_frames)
        self._debt_frames = 0
        if self.resampling:
            self._down, self._up, self.resampling_frames = resampler_pair(
                resampler, device_rate, style_rate, self.channels, capacity, runner.max_frames
            )
            self._style_fifo = AudioFifo(self.channels, capacity)
            self._scratch = np.zeros((self.channels, capacity), np.float32)

    def pump(self) -> int:
        """Run the style on everything that has arrived; returns style frames processed."""
        source = self.input
        if self.resampling:
            waiting = self.input.available()
            if waiting:
                block = self._scratch[:, :waiting]
                self.input.read_into(block)
                self._style_fifo.write(self._down.process(block))
            source = self._style_fifo
        multiple = self.runner.block_multiple
        done = 0
        while True:
            frames = min(source.available(), self.runner.max_frames)
            frames -= frames % multiple
            if frames <= 0:
                break
            source.read_into(self.runner.input_view(frames))
            wet = self.runner.run(frames)
            self.output.write(self._up.process(wet) if self.resampling else wet)
            done += frames
        return done

    def read_wet(self, out: np.ndarray) -> bool:
        """Fill ``out: [channels, n]`` with the next wet frames, or return False when they
        are late. Late frames are skipped when they arrive, so the wet stays aligned."""
        if self._debt_frames:
            self._debt_frames -= self.output.skip(self._debt_frames)
        frames = out.shape[1]
        if self._debt_frames == 0 and self.output.available() >= frames:
            self.output.read_into(out)
            return True
        self._debt_frames += frames
        return False
