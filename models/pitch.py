"""Streaming pitch and loudness features for timbre styles, in PyTorch ops that export to ONNX.

One feature frame every ``HOP`` = 128 input samples (2.67 ms at 48 kHz). The input is
low-passed and decimated by 4 to 12 kHz; each frame's analysis window is the most recent
``WINDOW`` decimated samples, so every feature only looks back (causal), and the state is
just the recent past: the filter's last input samples and the decimated history.

- f0: YIN (de Cheveigne and Kawahara 2002): the cumulative-mean-normalised difference
  function over lags of 6..200 decimated samples (2 kHz..60 Hz), the first local minimum
  under ``YIN_THRESHOLD`` (else the global minimum), refined by parabolic interpolation.
  Optionally (``subharmonic_ratio``, the voice styles) a check one octave down: where the
  difference function has a dip near twice the chosen lag that is deeper than
  ``subharmonic_ratio`` x the chosen one, the period is that longer lag. A voice whose
  fundamental is weak against its second harmonic (a low or creaky voice: every other cycle
  differs a little) has its first dip at half the period, under the threshold, and plain YIN
  takes it: the voice styles then shifted an octave above the asked pitch. Measured against
  Harvest on speech not used by the voice bench (flite Harvard sentences 5-8 of four voices,
  eleven Fish Fillets lines), frames at confidence above 0.5: plain YIN an octave or more high
  on 6.8% and low on 4.0%; with the check at 0.5, 5.6% and 4.0% (before the ``CLEAN_DIP``
  guard below: 0.4: 5.8 / 4.0, 0.5: 5.6 / 4.1, 0.6: 5.6 / 4.3).
  The check is skipped where the chosen dip's parabolic floor is under ``CLEAN_DIP``: a clean
  glottal glide, whose dips fall between lags, otherwise went an octave down on 36 of 750 frames.
- confidence: 1 - the normalised difference at that lag (1 = perfectly periodic). A floor
  ``NOISE_FLOOR`` on the difference keeps silence aperiodic (confidence ~0).
- loudness: RMS of the last 10.7 ms in dBFS.

Tried, not kept: a shorter ``WINDOW`` for the voice styles. The shift graph (formant 0) on
speech the voice bench does not use (flite's Harvard sentences 5-8, 11 Fish Fillets lines),
frames whose input f0 is unambiguous, Harvest on input and output; octave errors / frames left
at the input's pitch, in %:

    window   pitch -7     pitch -5     pitch +5     pitch +7
    200      1.0 / 1.9    2.0 / 2.5    2.2 / 2.4    2.1 / 2.3
    160                   2.0 / 2.4    2.6 / 2.1
    128      1.4 / 1.0    1.6 / 1.1    2.6 / 2.1    2.2 / 1.3
    96                    1.7 / 2.2    3.1 / 1.8

128 leaves fewer frames unshifted but puts as many or more an octave off, except at -5; the
octave errors are the voice goal's count.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

RATE = 48000
HOP = 128
DECIMATION = 4
ANALYSIS_RATE = RATE // DECIMATION
SUB_HOP = HOP // DECIMATION
TAU_MIN, TAU_MAX = 6, 200
WINDOW = 200
HISTORY = WINDOW + TAU_MAX
LOUDNESS_WINDOW = 128  # decimated samples: 10.7 ms
YIN_THRESHOLD = 0.15
NOISE_FLOOR = 1e-6  # per-sample squared difference (-60 dBFS): below it nothing is periodic
FIR_TAPS = 48
SILENCE_DB = -100.0
SUBHARMONIC_SEARCH = 2  # lags either side of twice the chosen one searched for a deeper dip
CLEAN_DIP = 0.02  # a chosen dip this deep is a clean period: no octave-down check (see _octave_down)


def last_marked(mask: torch.Tensor) -> torch.Tensor:
    """For each frame of ``mask [B, n]`` (bool), 1 + the index of the last marked frame at or
    before it, 0 where none is: a gather index into ``cat([held, values])`` that holds the last
    marked value (and, through the 0, one carried in from the previous block)."""
    frames = mask.shape[1]
    index = torch.arange(1, frames + 1, device=mask.device)
    marks = torch.where(mask, index[None, :], torch.zeros_like(index)[None, :])
    visible = (index[None, :] <= index[:, None]).to(marks.dtype)  # [i, j]: j <= i
    return (marks[:, None, :] * visible[None]).amax(dim=2)


def lowpass_taps(taps: int = FIR_TAPS, cutoff_hz: float = 5000.0) -> np.ndarray:
    """Hann-windowed sinc, unit gain at DC."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff_hz / RATE * n) * np.hanning(taps + 2)[1:-1]
    return (h / h.sum()).astype(np.float32)


class PitchLoudness(nn.Module):
    """``step(audio [B, T], fir_state [B, 47], history [B, 400])`` with T a multiple of HOP
    -> (f0_hz [B, n], confidence [B, n], loudness_db [B, n], fir_state, history), n = T / HOP."""

    def __init__(self, subharmonic_ratio: float | None = None) -> None:
        super().__init__()
        self.subharmonic_ratio = subharmonic_ratio
        self.register_buffer("taps", torch.from_numpy(lowpass_taps()).flip(0)[None, None, :], persistent=False)
        lags = torch.arange(TAU_MAX + 1)
        self.register_buffer("lags", lags, persistent=False)
        self.register_buffer("positions", torch.arange(HISTORY), persistent=False)

    @staticmethod
    def initial_state(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(batch, FIR_TAPS - 1), torch.zeros(batch, HISTORY)

    def step(self, audio: torch.Tensor, fir_state: torch.Tensor, history: torch.Tensor):
        joined = torch.cat([fir_state, audio], dim=1)
        decimated = nn.functional.conv1d(joined[:, None, :], self.taps, stride=DECIMATION)[:, 0, :]
        fir_state = joined[:, -(FIR_TAPS - 1) :]
        buffer = torch.cat([history, decimated], dim=1)  # [B, HISTORY + T/4]
        history = buffer[:, -HISTORY:]
        frames = decimated.shape[1] // SUB_HOP
        ends = HISTORY + SUB_HOP * torch.arange(1, frames + 1, device=audio.device)  # exclusive end per frame
        segment = buffer[:, ends[:, None] - HISTORY + self.positions]  # [B, n, HISTORY]: each frame's recent past
        current = segment[:, :, HISTORY - WINDOW :]  # the analysis window, [B, n, WINDOW]
        difference = self._difference(segment, current) + NOISE_FLOOR * WINDOW  # [B, n, lags]
        normalised = self._cmnd(difference)
        tau, dip = self._pick(normalised)
        f0 = ANALYSIS_RATE / tau
        confidence = (1.0 - dip).clamp(0.0, 1.0)
        recent = current[:, :, WINDOW - LOUDNESS_WINDOW :]
        loudness = 10.0 * torch.log10((recent**2).mean(dim=2) + 1e-10)
        return f0, confidence, loudness.clamp(min=SILENCE_DB), fir_state, history

    @staticmethod
    def _difference(segment: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """YIN's d(lag) = sum_j (x[j] - x[j - lag])^2 over the window, for lags 0..TAU_MAX, as
        energy(window) + energy(lagged window) - 2 * their correlation. The lagged windows are
        the rows of a Hankel matrix of the segment, made by tiling the segment and reshaping
        (one copy) instead of gathering every element: rows[k, j] = segment[k + j]. In float64:
        the energy form subtracts large numbers, and float32 would let PyTorch and ONNX Runtime
        disagree on close minima."""
        segment, current = segment.to(torch.float64), current.to(torch.float64)
        lags = TAU_MAX + 1
        batch, frames = segment.shape[0], segment.shape[1]
        tiled = segment.repeat(1, 1, lags + 1)[:, :, : lags * (HISTORY + 1)]
        rows = tiled.reshape(batch, frames, lags, HISTORY + 1)[:, :, :, :WINDOW]  # row k = lag TAU_MAX - k
        correlation = torch.matmul(rows, current[..., None])[..., 0]  # [B, n, lags]
        squares = torch.cumsum(torch.cat([torch.zeros_like(segment[:, :, :1]), segment**2], dim=2), dim=2)
        lagged_energy = squares[:, :, WINDOW : WINDOW + lags] - squares[:, :, :lags]
        window_energy = lagged_energy[:, :, -1:]
        difference = (window_energy + lagged_energy - 2.0 * correlation).clamp(min=0.0)
        return torch.flip(difference, dims=[2]).to(torch.float32)  # index = lag

    def _cmnd(self, difference: torch.Tensor) -> torch.Tensor:
        lags = self.lags.to(difference.dtype)
        shifted = difference[:, :, 1:]
        running = torch.cumsum(shifted, dim=2) / lags[1:]
        return torch.cat([torch.ones_like(difference[:, :, :1]), shifted / running], dim=2)

    def _pick(self, normalised: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inner = normalised[:, :, TAU_MIN : TAU_MAX]  # lags with both neighbours
        left = normalised[:, :, TAU_MIN - 1 : TAU_MAX - 1]
        right = normalised[:, :, TAU_MIN + 1 : TAU_MAX + 1]
        candidate = ((inner <= left) & (inner <= right) & (inner < YIN_THRESHOLD)).to(inner.dtype)
        first = torch.argmax(candidate, dim=2)  # the first candidate (argmax returns the first maximum)
        best = torch.argmin(inner, dim=2)
        chosen = torch.where(candidate.amax(dim=2) > 0, first, best)[..., None]
        if self.subharmonic_ratio is not None:
            chosen = self._octave_down(left, inner, right, chosen, self.subharmonic_ratio)
        at, shift, _ = self._parabola(left, inner, right, chosen)
        tau = (chosen.to(inner.dtype) + TAU_MIN + shift.clamp(-0.5, 0.5))[..., 0]
        return tau, at[..., 0]

    @staticmethod
    def _parabola(left: torch.Tensor, inner: torch.Tensor, right: torch.Tensor, index: torch.Tensor):
        """The parabola through the dip at ``index`` and its two neighbours: (the value at the
        lag, the offset of the parabola's bottom from it, and the bottom's value)."""
        at, before, after = inner.gather(2, index), left.gather(2, index), right.gather(2, index)
        curvature = before - 2 * at + after
        bent = curvature.clamp(min=1e-6)
        shift = torch.where(curvature > 1e-6, 0.5 * (before - after) / bent, torch.zeros_like(at))
        return at, shift, at - (before - after) ** 2 / (8 * bent)

    @staticmethod
    def _octave_down(left: torch.Tensor, inner: torch.Tensor, right: torch.Tensor, chosen: torch.Tensor, ratio: float):
        """The deepest dip within SUBHARMONIC_SEARCH lags of twice the chosen lag, where it is
        deeper than ``ratio`` x the chosen dip (and inside the searched lags); else the chosen.
        Not where the chosen dip's parabola bottoms out under CLEAN_DIP: a clean period whose
        dip falls between two lags reads 0.01-0.02 at both, while its true floor is 0.002-0.007
        (a glottal glide); a weak fundamental's is 0.06-0.09."""
        lags = inner.shape[2]
        double = 2 * chosen + TAU_MIN  # index of twice the chosen lag (index = lag - TAU_MIN)
        near = double + torch.arange(-SUBHARMONIC_SEARCH, SUBHARMONIC_SEARCH + 1, device=inner.device)
        inside = near <= lags - 2
        values = torch.where(inside, inner.gather(2, near.clamp(max=lags - 1)), torch.full_like(near, 2.0, dtype=inner.dtype))
        deepest = torch.argmin(values, dim=2, keepdim=True)
        at, _, floor = PitchLoudness._parabola(left, inner, right, chosen)
        take = (values.gather(2, deepest) < ratio * at) & (floor > CLEAN_DIP) & inside.gather(2, deepest)
        return torch.where(take, near.gather(2, deepest), chosen)

    def forward(self, audio: torch.Tensor, chunk: int = 64 * HOP):
        """Features of a whole signal [B, T] from zero state, computed in chunks."""
        fir_state, history = self.initial_state(audio.shape[0])
        parts = []
        for start in range(0, audio.shape[1], chunk):
            *features, fir_state, history = self.step(audio[:, start : start + chunk], fir_state, history)
            parts.append(features)
        return tuple(torch.cat([p[k] for p in parts], dim=1) for k in range(3))
