"""Speech denoising: a spectral mask from a small recurrent network, streaming, every piece of
state explicit, in PyTorch ops that export to one ONNX graph.

Per hop of ``HOP`` = 480 samples (10 ms at 48 kHz):
- The last ``WINDOW`` = 960 input samples, square-root-Hann windowed, go through a real DFT
  (a matrix product: the legacy ONNX exporter has no FFT), 481 bins 50 Hz apart.
- The network sees the log power in ``bands`` = 32 bands on the ERB-rate scale (triangles, so
  each bin belongs to two neighbours), a linear layer, two GRU layers and a linear read-out to
  one gain per band in (0, 1), spread back over the bins by the same triangles (RNNoise's
  plan). With one gain per bin (``bands=0``) the network learned more slowly and generalised
  worse: 600 steps, validation SI-SDR +2.7/+2.6/+1.7 dB at 0/5/10 dB SNR against +4.5/+5.1/+2.9
  with 32 bands. The gains are real: the noisy phase is kept.
- A deep filter for the lowest ``filter_bins`` = 96 bins (to 4.75 kHz): the network also puts
  out, per bin, complex coefficients over this frame and the two before it, whose sum is added to
  the band-gained bin. Band gains cannot keep a voice's harmonics and remove the noise between
  them; the filter can (DeepFilterNet's idea; past frames only, so no latency). Trained 800
  steps on from the band-only style with the training's loss, scored on validation speakers:
  DNSMOS OVRL 1.89 before, 1.90 on with band gains only, 1.94 with the filter; clean speech
  passed through came out 1.7, 1.4 and 1.0 dB quieter.
- The band gains are *held*: each is at least ``RELEASE`` = 0.92 times the last hop's held gain,
  so a gain falls by at most 0.72 dB a hop (72 dB a second) after speech stops, as RNNoise holds
  its gains. The ends of words, which the network cuts as soon as it hears them fade, keep
  their tails. The recursion h(t) = max(g(t), RELEASE h(t - 1)), written as the maximum of
  g(t - k) RELEASE^k over the last ``HOLD_FRAMES`` = 64 hops (so no loop in the graph; a gain
  held longer than that, at RELEASE^64 = -46 dB, is let go; the raw gains of the 63 hops before
  are the state). Training leaves it out (the committed checkpoint was trained without it): it
  is applied where the style runs. On validation speakers (16 noisy examples at each of 0, 5,
  10 and 20 dB SNR) it raised DNSMOS OVRL 2.18 -> 2.24
  (SIG 2.49 -> 2.58, BAK 3.63 -> 3.58) at the same SI-SDR (10.80 -> 10.85 dB). The release was
  chosen there with the hold on each bin's gain instead of each band's: 0.5, 0.7, 0.85, 0.92 and
  0.96 gave OVRL 2.18, 2.19, 2.21, 2.25 and 2.25 (BAK 3.63, 3.63, 3.62, 3.58, 3.46). Gains
  pushed lower instead (squared, a post-filter, a frame gate) gave no more than 2.19.
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

import numpy as np
import torch
from torch import nn

ARCH = "denoise-gru"
RATE = 48000
HOP = 480
WINDOW = 2 * HOP
BINS = WINDOW // 2 + 1
LATENCY = HOP
POWER_FLOOR = 1e-9  # added to the power spectrum before the log (about -90 dB re full scale per bin)
#: the log power's mean and spread over training examples (speech at -45..-15 dBFS in noise):
#: the network sees (log power - mean) / spread, so that its first layer starts unsaturated
FEATURE_MEAN, FEATURE_SPREAD = -9.3, 6.2
#: the deep filter (``filter_bins`` > 0): for the lowest bins, a complex filter over this many
#: frames (this one and the ones before it) on top of the band gains
FILTER_ORDER = 3
FILTER_BINS = 96  # 0-4.75 kHz: the harmonics that 50 Hz bins cannot separate from the noise between them
RELEASE = 0.92  # the held gains fall at most this much a hop (see the module's docstring)
HOLD_FRAMES = 64

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


def band_matrix(bands: int) -> torch.Tensor:
    """[BINS, bands]: triangles on the ERB-rate scale, 0 Hz to Nyquist, each bin's row adding
    up to one (so the same matrix pools power into bands and spreads band gains over bins)."""
    hz = torch.arange(BINS, dtype=torch.float64) * RATE / WINDOW
    erb = 21.4 * torch.log10(1 + 0.00437 * hz)
    centres = torch.linspace(0.0, float(erb[-1]), bands, dtype=torch.float64)
    position = torch.from_numpy(np.interp(erb.numpy(), centres.numpy(), np.arange(bands, dtype=np.float64)))
    lower = torch.floor(position).clamp(max=bands - 2)
    upper_weight = position - lower
    matrix = torch.zeros(BINS, bands, dtype=torch.float64)
    rows = torch.arange(BINS)
    matrix[rows, lower.long()] = 1 - upper_weight
    matrix[rows, lower.long() + 1] += upper_weight
    return matrix.float()


class DenoiseModel(nn.Module):
    def __init__(self, hidden: int = 128, bands: int = 32, filter_bins: int = FILTER_BINS, release: float = RELEASE) -> None:
        super().__init__()
        self.config = {"hidden": hidden, "bands": bands, "filter_bins": filter_bins, "release": release}
        self.bands = bands
        self.filter_bins = filter_bins
        self.release = release
        self.arch = ARCH
        self.num_params = 1
        self.hidden = hidden
        cos, sin, weights, window = _dft_matrices()
        self.register_buffer("basis", torch.cat([cos, sin], dim=1), persistent=False)  # [WINDOW, 2 BINS]
        self.register_buffer("bin_weights", torch.cat([weights, weights]), persistent=False)
        self.register_buffer("window", window, persistent=False)
        if bands:
            self.register_buffer("band_of_bin", band_matrix(bands), persistent=False)
        width = bands or BINS
        self.register_buffer("hold_weights", release ** torch.arange(HOLD_FRAMES - 1, -1, -1, dtype=torch.float32)[:, None],
                             persistent=False)  # [HOLD_FRAMES, 1]: RELEASE^k, the oldest hop first
        self.inlet = nn.Linear(width, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(2 * hidden, width)
        if filter_bins:
            # starts at zero: a model grown from a band-gain model starts as exactly that model
            self.filter_head = nn.Linear(2 * hidden, 2 * FILTER_ORDER * filter_bins)
            nn.init.zeros_(self.filter_head.weight)
            nn.init.zeros_(self.filter_head.bias)

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        """All zeros: the engine starts (and resets) every style's state at zero."""
        state = [
            torch.zeros(batch, HOP),  # the last hop of input
            torch.zeros(2, batch, self.hidden),  # the GRU layers' hidden states
            torch.zeros(batch, HOP),  # the second half of the last frame's output (overlap-add)
        ]
        if self.filter_bins:  # the lowest bins of the frames before this one, for the deep filter
            state.append(torch.zeros(batch, FILTER_ORDER - 1, 2 * self.filter_bins))
        if self.release:  # the raw gains of the hops before this one, for the hold
            state.append(torch.zeros(batch, HOLD_FRAMES - 1, self.bands or BINS))
        return state

    def hold(self, gains: torch.Tensor, earlier: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gains [B, n, W] -> held gains max_k RELEASE^k g(t - k) over HOLD_FRAMES hops, with
        ``earlier`` [B, HOLD_FRAMES - 1, W] the raw gains before them; and the new ``earlier``."""
        frames = gains.shape[1]
        joined = torch.cat([earlier, gains], dim=1)
        index = torch.arange(frames, device=gains.device)[:, None] + torch.arange(HOLD_FRAMES, device=gains.device)[None, :]
        windows = joined[:, index]  # [B, n, HOLD_FRAMES, W], the oldest hop first
        return (windows * self.hold_weights).amax(dim=2), joined[:, frames:]

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

    def synthesis_fft(self, real: torch.Tensor, minus_imag: torch.Tensor) -> torch.Tensor:
        """Training's inverse: [B, n, BINS] twice -> overlap-added audio [B, n * HOP], as ``step``
        makes it from zero state (the FFT instead of ``synthesis``'s matrix product)."""
        frames = torch.fft.irfft(torch.complex(real, -minus_imag), n=WINDOW, dim=2) * self.window
        return self.overlap_add(frames, frames.new_zeros(frames.shape[0], HOP))

    @staticmethod
    def overlap_add(frames: torch.Tensor, carry: torch.Tensor) -> torch.Tensor:
        """Frames [B, n, WINDOW] at a HOP apart, after ``carry`` [B, HOP] (the second half of the
        frame before them) -> the n completed hops [B, n * HOP]."""
        previous = torch.cat([carry[:, None, :], frames[:, :-1, HOP:]], dim=1)
        return (previous + frames[:, :, :HOP]).reshape(frames.shape[0], -1)

    def gains(self, real: torch.Tensor, minus_imag: torch.Tensor, state: torch.Tensor, held: torch.Tensor | None = None):
        """The network: gains [B, n, BINS] in (0, 1), the deep filter's coefficients
        [B, n, FILTER_ORDER, 2 filter_bins] (None without one), the new GRU state and, with
        ``held`` (the hold's state; None: no hold, as in training), its new value."""
        power = real * real + minus_imag * minus_imag
        if self.bands:
            power = power @ self.band_of_bin
        features = (torch.log(power + POWER_FLOOR) - FEATURE_MEAN) / FEATURE_SPREAD
        inner = torch.tanh(self.inlet(features))
        recurrent, state = self.gru(inner, state)
        both = torch.cat([inner, recurrent], dim=2)
        gains = torch.sigmoid(self.head(both))
        if held is not None:
            gains, held = self.hold(gains, held)
        if self.bands:
            gains = gains @ self.band_of_bin.transpose(0, 1)
        coefficients = None
        if self.filter_bins:
            coefficients = self.filter_head(both).reshape(both.shape[0], both.shape[1], FILTER_ORDER, 2 * self.filter_bins)
        return gains, coefficients, state, held

    def enhance(self, real: torch.Tensor, minus_imag: torch.Tensor, strength: torch.Tensor, hidden: torch.Tensor,
                earlier: torch.Tensor | None = None, held: torch.Tensor | None = None):
        """The noisy spectrum [B, n, BINS] twice -> the output spectrum twice, the new GRU state,
        (with a deep filter) the lowest bins of the last FILTER_ORDER - 1 frames and (with
        ``held``, the hold's state) the hold's new state.

        The output is floor * X + (1 - floor) * Y with floor = (1 - strength)^2 (so strength 0 is
        the input exactly), Y = gains * X, and in the lowest ``filter_bins`` bins Y also gets
        sum_i C_i(t) X(t - i) for i < FILTER_ORDER: a complex filter across frames, which can keep
        a voice's harmonics and take out the noise between them, finer than 50 Hz bins can alone
        (DeepFilterNet's idea, here with past frames only). ``earlier`` [B, FILTER_ORDER - 1,
        2 filter_bins] holds those bins of the frames before these (zeros at the start)."""
        gains, coefficients, hidden, held = self.gains(real, minus_imag, hidden, held)
        out_real, out_imag = real * gains, minus_imag * gains
        if self.filter_bins:
            k, frames = self.filter_bins, real.shape[1]
            low = torch.cat([real[:, :, :k], minus_imag[:, :, :k]], dim=2)  # [B, n, 2k]
            history = torch.cat([earlier, low], dim=1)  # [B, FILTER_ORDER - 1 + n, 2k]
            extra_real, extra_imag = 0.0, 0.0
            for i in range(FILTER_ORDER):
                start = FILTER_ORDER - 1 - i
                past = history[:, start:start + frames]
                c_real, c_imag = coefficients[:, :, i, :k], coefficients[:, :, i, k:]
                extra_real = extra_real + c_real * past[:, :, :k] - c_imag * past[:, :, k:]
                extra_imag = extra_imag + c_real * past[:, :, k:] + c_imag * past[:, :, :k]
            out_real = torch.cat([out_real[:, :, :k] + extra_real, out_real[:, :, k:]], dim=2)
            out_imag = torch.cat([out_imag[:, :, :k] + extra_imag, out_imag[:, :, k:]], dim=2)
            earlier = history[:, frames:]
        floor = torch.square(1.0 - strength.clamp(0.0, 1.0))[:, :, None]
        out_real = floor * real + (1.0 - floor) * out_real
        out_imag = floor * minus_imag + (1.0 - floor) * out_imag
        return out_real, out_imag, hidden, earlier, held

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

    def step(self, audio: torch.Tensor, params: torch.Tensor, history: torch.Tensor, hidden: torch.Tensor,
             carry: torch.Tensor, *rest: torch.Tensor):
        x = audio[:, 0]
        batch, samples = x.shape
        basis = self.basis  # read once: the exporter stores each read of a buffer as its own constant
        real, minus_imag = self.spectrum(self.frames(x, history), basis)
        earlier = rest[0] if self.filter_bins else None
        held = rest[-1] if self.release else None
        out_real, out_imag, hidden, last_low, held = self.enhance(real, minus_imag, params[:, :1], hidden, earlier, held)
        out_frames = self.synthesis(out_real, out_imag, basis)
        out = self.overlap_add(out_frames, carry).reshape(batch, 1, samples)
        state = (x[:, samples - HOP :], hidden, out_frames[:, -1, HOP:])
        return (out, *state, *([last_low] if self.filter_bins else []), *([held] if self.release else []))

    def forward(self, audio: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """One call over a whole signal (a multiple of HOP samples) from zero state."""
        out, *_ = self.step(audio, params, *self.initial_state(audio.shape[0]))
        return out
