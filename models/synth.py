"""Harmonic plus filtered-noise synthesis (as in DDSP), streaming, with its state explicit.

Controls arrive once per frame of ``HOP`` samples and are interpolated linearly across the
frame from the previous frame's values (carried in the state), so nothing steps at a frame
or block boundary. The oscillator phase is accumulated in float64 (exact enough that a
signal streamed in blocks matches one call) and carried across blocks, in cycles, in [0, 1).

The noise is a fixed, seeded table of white noise split into ``BANDS`` log-spaced bands
(each at unit RMS); a frame's noise is the band tables at the running table position,
weighted by the frame's band gains. Deterministic, so streaming equals one call.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.pitch import HOP, RATE

HARMONICS = 48
BANDS = 10
NOISE_TABLE = 16384  # samples (0.34 s), a power of two
NOISE_SEED = 20261125
BAND_EDGES_HZ = (40.0, 20000.0)
ALIAS_LIMIT_HZ = 0.45 * RATE


def noise_bands(frames: int = NOISE_TABLE, bands: int = BANDS, seed: int = NOISE_SEED) -> np.ndarray:
    """[bands, frames] float32: white noise band-split by FFT masks (circular, so the table loops cleanly)."""
    white = np.random.default_rng(seed).standard_normal(frames)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(frames, 1 / RATE)
    edges = np.geomspace(*BAND_EDGES_HZ, bands + 1)
    edges[0], edges[-1] = 0.0, RATE / 2 + 1
    tables = np.zeros((bands, frames))
    for band in range(bands):
        mask = (freqs >= edges[band]) & (freqs < edges[band + 1])
        tables[band] = np.fft.irfft(spectrum * mask, frames)
        tables[band] /= np.sqrt(np.mean(tables[band] ** 2))
    return tables.astype(np.float32)


def frame_ramp(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Per-sample linear interpolation: previous [B, C] (the frame before), current [B, n, C]
    -> [B, n * HOP, C], reaching each frame's value at the frame's last sample."""
    before = torch.cat([previous[:, None, :], current[:, :-1, :]], dim=1)
    ramp = (torch.arange(1, HOP + 1, dtype=current.dtype, device=current.device) / HOP)[None, None, :, None]
    samples = before[:, :, None, :] + (current - before)[:, :, None, :] * ramp  # [B, n, HOP, C]
    return samples.reshape(current.shape[0], -1, current.shape[2])


class HarmonicNoiseSynth(nn.Module):
    """``step(f0_hz [B, n], harmonic_amps [B, n, K], band_gains [B, n, BANDS], state...)``
    -> (audio [B, n * HOP], state...). State: previous f0 [B, 1], previous harmonic amps
    [B, K], previous band gains [B, BANDS], phase in cycles [B, 2] (a float64 split into high and
    low float32 parts, so no precision is lost between blocks), noise position [B, 1]."""

    def __init__(self, harmonics: int = HARMONICS, bands: int = BANDS) -> None:
        super().__init__()
        self.harmonics = harmonics
        self.bands = bands
        self.register_buffer("noise", torch.from_numpy(noise_bands(bands=bands)), persistent=False)
        self.register_buffer("orders", torch.arange(1, harmonics + 1, dtype=torch.float64), persistent=False)

    def initial_state(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        return (
            torch.zeros(batch, 1), torch.zeros(batch, self.harmonics), torch.zeros(batch, self.bands),
            torch.zeros(batch, 2), torch.zeros(batch, 1),
        )

    def alias_mask(self, f0_hz: torch.Tensor) -> torch.Tensor:
        """1 for harmonics below the alias limit, [B, n, K]."""
        return (f0_hz[..., None] * self.orders.to(f0_hz.dtype) < ALIAS_LIMIT_HZ).to(f0_hz.dtype)

    def step(self, f0_hz, harmonic_amps, band_gains, f0_prev, amps_prev, gains_prev, phase, position):
        samples = f0_hz.shape[1] * HOP
        f0 = frame_ramp(f0_prev, f0_hz[..., None])[..., 0]  # [B, T]
        increments = (f0 / RATE).to(torch.float64)
        start = phase.to(torch.float64).sum(dim=1, keepdim=True)  # high + low float32 parts
        cycles = start + torch.cumsum(increments, dim=1)
        cycles = cycles - torch.floor(cycles)  # [B, T] in [0, 1)
        per_harmonic = cycles[..., None] * self.orders  # [B, T, K]
        per_harmonic = (per_harmonic - torch.floor(per_harmonic)).to(f0.dtype)
        amps = frame_ramp(amps_prev, harmonic_amps)
        harmonic = (torch.sin(2 * np.pi * per_harmonic) * amps).sum(dim=2)

        offsets = torch.arange(samples, device=f0.device)[None, :] + position.to(torch.int64)
        table = self.noise[:, offsets % NOISE_TABLE]  # [BANDS, B, T]
        gains = frame_ramp(gains_prev, band_gains)  # [B, T, BANDS]
        noise = (table.permute(1, 2, 0) * gains).sum(dim=2)

        new_position = ((position.to(torch.int64) + samples) % NOISE_TABLE).to(f0.dtype)
        high = cycles[:, -1:].to(f0.dtype)
        new_phase = torch.cat([high, (cycles[:, -1:] - high.to(torch.float64)).to(f0.dtype)], dim=1)
        return harmonic + noise, f0_hz[:, -1:], harmonic_amps[:, -1], band_gains[:, -1], new_phase, new_position
