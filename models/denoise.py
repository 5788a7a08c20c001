"""Speech denoising: a spectral mask from a small recurrent network, streaming, every piece of
state explicit, in PyTorch ops that export to one ONNX graph.

Per hop of ``HOP`` = 480 samples (10 ms at 48 kHz):
- The last ``WINDOW`` = 960 input samples, square-root-Hann windowed, go through a real DFT
  (a matrix product: the legacy ONNX exporter has no FFT), 481 bins 50 Hz apart.
- The network sees the log power of every bin (fine enough to find the gaps between a voice's
  harmonics), a linear layer, two GRU layers and a linear read-out to one gain per bin in
  (0, 1). The gains are real: the noisy phase is kept.
- ``strength`` (0..1) sets a floor under the gains, (1 - strength)^2: at 1 nothing is held
  back, at 0.5 the noise drops by at most 12 dB and keeps its natural sound, at 0 the style
  is an exact 10 ms delay.
- Inverse DFT, the same window again, overlap-add: the square-root-Hann windows at 50% overlap
  add up to one, so at gain one the output is the input exactly.

Latency: a hop is complete when the frame after it has arrived: the output is the input
``LATENCY`` = 480 samples (10 ms) later. With a 128-frame device block the engine buffers a
hop's worth more (448 samples at 128: 19.3 ms in all). The gains are zero-phase filters over a
20 ms frame, so a click in a frame the network holds back can ring up to 10 ms before its delayed
time, as in every frame-based denoiser (RNNoise, DeepFilterNet); the declared latency is the
time at which the dry signal lines up with the output (measured by ``validate`` with an impulse
at strength 0, where the style is that delay exactly).
"""

from __future__ import annotations

import math

import torch
from torch import nn

ARCH = "denoise-gru"
RATE = 48000
HOP = 480
WINDOW = 2 * HOP
BINS = WINDOW // 2 + 1
LATENCY = HOP
POWER_FLOOR = 1e-9  # added to the power spectrum before the log (about -90 dB re full scale per bin)

STRENGTH = {"name": "strength", "min": 0.0, "max": 1.0, "default": 1.0, "unit": ""}


def _dft_matrices() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """cos and sin [WINDOW, BINS] (float64 angles), the inverse's bin weights (1, 2, ..., 2, 1)
    over WINDOW, and the square-root periodic Hann window."""
    n = torch.arange(WINDOW, dtype=torch.float64)
    k = torch.arange(BINS, dtype=torch.float64)
    angle = 2 * math.pi * torch.remainder(n[:, None] * k[None, :], WINDOW) / WINDOW
    weights = torch.full((BINS,), 2.0, dtype=torch.float64)
    weights[0] = weights[-1] = 1.0
    window = torch.sqrt(0.5 - 0.5 * torch.cos(2 * math.pi * n / WINDOW))
    return torch.cos(angle).float(), torch.sin(angle).float(), (weights / WINDOW).float(), window.float()


class DenoiseModel(nn.Module):
    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.config = {"hidden": hidden}
        self.arch = ARCH
        self.num_params = 1
        self.hidden = hidden
        cos, sin, weights, window = _dft_matrices()
        self.register_buffer("basis", torch.cat([cos, sin], dim=1), persistent=False)  # [WINDOW, 2 BINS]
        self.register_buffer("bin_weights", torch.cat([weights, weights]), persistent=False)
        self.register_buffer("window", window, persistent=False)
        self.inlet = nn.Linear(BINS, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(2 * hidden, BINS)

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        """All zeros: the engine starts (and resets) every style's state at zero."""
        return [
            torch.zeros(batch, HOP),  # the last hop of input
            torch.zeros(2, batch, self.hidden),  # the GRU layers' hidden states
            torch.zeros(batch, HOP),  # the second half of the last frame's output (overlap-add)
        ]

    def spectrum(self, frames: torch.Tensor, basis: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Windowed frames [B, n, WINDOW] -> (real part, minus the imaginary part) [B, n, BINS]:
        one product with [cos | sin] (stored once in the graph, shared with ``synthesis``)."""
        both = (frames * self.window) @ (self.basis if basis is None else basis)
        return both[:, :, :BINS], both[:, :, BINS:]

    def spectrum_fft(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``spectrum(frames(x, zeros))`` by the FFT: the same numbers (to float rounding), many
        times faster for training; the exported graph uses ``spectrum`` (no FFT in ONNX here)."""
        padded = torch.nn.functional.pad(x, (HOP, 0))
        frames = padded.unfold(1, WINDOW, HOP) * self.window
        bins = torch.fft.rfft(frames, dim=2)
        return bins.real, -bins.imag

    def gains(self, real: torch.Tensor, minus_imag: torch.Tensor, state: torch.Tensor):
        """The network: gains [B, n, BINS] in (0, 1) and the new GRU state."""
        features = torch.log(real * real + minus_imag * minus_imag + POWER_FLOOR)
        inner = torch.tanh(self.inlet(features))
        recurrent, state = self.gru(inner, state)
        return torch.sigmoid(self.head(torch.cat([inner, recurrent], dim=2))), state

    def synthesis(self, real: torch.Tensor, minus_imag: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
        """Inverse DFT and the synthesis window: [B, n, BINS] twice -> frames [B, n, WINDOW].
        Written as matrix @ transposed activations, so the matrices are stored once."""
        weighted = (torch.cat([real, minus_imag], dim=2) * self.bin_weights).transpose(1, 2)
        return ((self.basis if basis is None else basis) @ weighted).transpose(1, 2) * self.window

    @staticmethod
    def frames(x: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """[B, T] after ``history`` [B, HOP] -> the T / HOP frames [B, n, WINDOW] that end
        with each hop of ``x``."""
        batch, samples = x.shape
        buffer = torch.cat([history, x], dim=1)
        return torch.cat([buffer[:, :samples].reshape(batch, -1, HOP), buffer[:, HOP:].reshape(batch, -1, HOP)], dim=2)

    @staticmethod
    def with_floor(gains: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        """The network's gains [B, n, BINS] lifted to at least (1 - strength)^2, strength [B, 1]."""
        floor = torch.square(1.0 - strength.clamp(0.0, 1.0))[:, :, None]
        return floor + (1.0 - floor) * gains

    def step(self, audio: torch.Tensor, params: torch.Tensor, history: torch.Tensor, hidden: torch.Tensor,
             carry: torch.Tensor):
        x = audio[:, 0]
        batch, samples = x.shape
        basis = self.basis  # read once: the exporter stores each read of a buffer as its own constant
        real, minus_imag = self.spectrum(self.frames(x, history), basis)
        gains, hidden = self.gains(real, minus_imag, hidden)
        gains = self.with_floor(gains, params[:, :1])
        out_frames = self.synthesis(real * gains, minus_imag * gains, basis)
        previous = torch.cat([carry[:, None, :], out_frames[:, :-1, HOP:]], dim=1)
        out = (previous + out_frames[:, :, :HOP]).reshape(batch, 1, samples)
        return out, x[:, samples - HOP :], hidden, out_frames[:, -1, HOP:]

    def forward(self, audio: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """One call over a whole signal (a multiple of HOP samples) from zero state."""
        out, *_ = self.step(audio, params, *self.initial_state(audio.shape[0]))
        return out
