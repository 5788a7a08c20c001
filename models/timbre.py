"""Timbre transfer (voice or any monophonic line in, an instrument out), as in DDSP:
pitch and loudness from the input, a recurrent decoder, harmonic plus filtered-noise
synthesis. One streaming model whose every piece of state is explicit; it exports to one
style file whose ``block_multiple`` is ``HOP`` (128 samples at 48 kHz).

Knobs: transpose (semitones), brightness (dB per octave tilt of the harmonics) and breath
(dB on the noise). None is learned: they act on the features and the decoder's output, so
any trained instrument has them.

Silence and unvoiced input: the harmonics are gated by the pitch confidence and everything
by the input level (both averaged over three frames, then interpolated per sample), so an
unvoiced or quiet input cannot leave a note sounding; while unvoiced, the oscillator keeps
the last voiced pitch, so a note fades out where it was instead of sliding.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from models.arch import stream
from models.pitch import HOP, PitchLoudness, last_marked
from models.synth import HarmonicNoiseSynth

ARCH = "timbre"
PARAMS = (
    {"name": "transpose", "min": -24.0, "max": 24.0, "default": 0.0, "unit": "st", "step": 1.0},
    {"name": "brightness", "min": -6.0, "max": 6.0, "default": 0.0, "unit": "dB/oct"},
    {"name": "breath", "min": -30.0, "max": 12.0, "default": 0.0, "unit": "dB"},
)
VOICED_CONFIDENCE = (0.45, 0.65)  # harmonic gate: 0 below, 1 above, linear between
LEVEL_GATE_DB = (-70.0, -60.0)  # everything: 0 below, 1 above
GATE_FRAMES = 3


def scaled_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """DDSP's amplitude non-linearity: positive, smooth, up to 2."""
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


def ramp_between(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    return ((x - low) / (high - low)).clamp(0.0, 1.0)


class Decoder(nn.Module):
    """(pitch, loudness) per frame -> overall amplitude, harmonic distribution, noise bands."""

    def __init__(self, hidden: int, harmonics: int, bands: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.inputs = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, hidden), nn.LeakyReLU(0.1))
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, 1 + harmonics + bands))

    def forward(self, features: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = self.inputs(features)
        recurrent, state = self.gru(embedded, state)
        return self.head(torch.cat([embedded, recurrent], dim=2)), state


class TimbreModel(nn.Module):
    """``step(audio [B, 1, T], params [B, 3], *state)`` with T a multiple of HOP."""

    def __init__(self, hidden: int = 96, harmonics: int = 48, bands: int = 10) -> None:
        super().__init__()
        self.arch = ARCH
        self.config = {"hidden": hidden, "harmonics": harmonics, "bands": bands}
        self.num_params = len(PARAMS)
        self.features = PitchLoudness()
        self.decoder = Decoder(hidden, harmonics, bands)
        self.synth = HarmonicNoiseSynth(harmonics, bands)
        self.register_buffer("orders", torch.arange(1, harmonics + 1, dtype=torch.float32), persistent=False)

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        fir, history = self.features.initial_state(batch)
        held = torch.zeros(batch, 1)  # the last voiced f0 (Hz, before transposing)
        gates = torch.zeros(batch, 2 * (GATE_FRAMES - 1))  # recent gate targets: harmonic, level
        recurrent = torch.zeros(1, batch, self.decoder.hidden)
        return [fir, history, held, gates, recurrent, *self.synth.initial_state(batch)]

    def controls(self, f0_hz, confidence, loudness_db, params, held, gates, recurrent):
        """Features per frame [B, n] -> synthesis controls per frame, and the new state."""
        frames = f0_hz.shape[1]
        voiced = confidence > VOICED_CONFIDENCE[0]
        last = last_marked(voiced)  # 1 + last voiced frame so far, 0 = none
        f0 = torch.cat([held, f0_hz], dim=1).gather(1, last)
        held = f0[:, -1:]
        f0 = f0 * torch.pow(2.0, params[:, :1] / 12.0)

        targets = torch.stack([ramp_between(confidence, *VOICED_CONFIDENCE), ramp_between(loudness_db, *LEVEL_GATE_DB)], dim=2)
        past = gates.reshape(gates.shape[0], GATE_FRAMES - 1, 2)
        joined = torch.cat([past, targets], dim=1)  # [B, n + 2, 2]
        smooth = sum(joined[:, k : k + frames] for k in range(GATE_FRAMES)) / GATE_FRAMES
        gates = joined[:, frames:].reshape(gates.shape[0], -1)

        pitch = torch.log2(f0.clamp(min=20.0) / 440.0)
        level = (loudness_db + 40.0) / 20.0
        out, recurrent = self.decoder(torch.stack([pitch, level], dim=2), recurrent)
        harmonics = self.orders.shape[0]
        amplitude = scaled_sigmoid(out[..., :1])
        tilt = torch.pow(self.orders, params[:, 1:2, None] / 6.0206)  # [B, 1, K]
        distribution = torch.softmax(out[..., 1 : 1 + harmonics], dim=2) * tilt * self.synth.alias_mask(f0)
        distribution = distribution / (distribution.sum(dim=2, keepdim=True) + 1e-7)
        level_gate = smooth[..., 1:]
        harmonic_amps = amplitude * distribution * smooth[..., :1] * level_gate
        band_gains = scaled_sigmoid(out[..., 1 + harmonics :]) * torch.pow(10.0, params[:, 2:3, None] / 20.0) * level_gate
        return f0, harmonic_amps, band_gains, held, gates, recurrent

    def step(self, audio: torch.Tensor, params: torch.Tensor, *state: torch.Tensor):
        fir, history, held, gates, recurrent, *synth_state = state
        f0_hz, confidence, loudness, fir, history = self.features.step(audio[:, 0], fir, history)
        f0, harmonic_amps, band_gains, held, gates, recurrent = self.controls(
            f0_hz, confidence, loudness, params, held, gates, recurrent
        )
        out, *synth_state = self.synth.step(f0, harmonic_amps, band_gains, *synth_state)
        return (out[:, None, :], fir, history, held, gates, recurrent, *synth_state)

    def forward(self, audio: torch.Tensor, params: torch.Tensor, chunk: int = 64 * HOP) -> torch.Tensor:
        """The streaming path over a whole signal from zero state, ``chunk`` samples a call."""
        return stream(self, audio, params, chunk)

    def render_features(self, f0_hz, confidence, loudness_db, params) -> torch.Tensor:
        """Training path: audio [B, n * HOP] from precomputed features [B, n], zero state."""
        batch = f0_hz.shape[0]
        state = self.initial_state(batch)
        f0, harmonic_amps, band_gains, *_ = self.controls(f0_hz, confidence, loudness_db, params, state[2], state[3], state[4])
        out, *_ = self.synth.step(f0, harmonic_amps, band_gains, *state[5:])
        return out
