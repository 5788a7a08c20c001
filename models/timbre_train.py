"""Training a timbre style from monophonic recordings of an instrument, and measuring it.

Training: the recordings' own pitch and loudness (from the same causal feature extractor
that runs in the style) drive the decoder and synthesizer, and the loss is the
multi-resolution STFT distance (linear + log magnitudes, FFT sizes 2048..64) between the
synthesized and the real audio. The last part of each recording is held out for
validation; the weights with the best validation distance are kept.

Measurements (``evaluate``):
- sound: on held-out renders driven by their own pitch and loudness, the multi-resolution
  STFT distance of the style vs a plain harmonic oscillator (a 1/k sawtooth spectrum at the
  same pitch, gated by the same voicing, its level matched frame by frame to the input's);
- pitch following: voice-like input through the style; an independent estimator (librosa's
  pyin) on the input and on the output; the median absolute difference in cents on frames
  both call voiced, after the transpose and after shifting by the declared latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from models.pitch import HOP, RATE
from models.timbre import TimbreModel, ramp_between, VOICED_CONFIDENCE
from models.train import History, Progress, optimise
from realtime.errors import ConfigError

FFT_SIZES = (2048, 1024, 512, 256, 128, 64)
PYIN_RESOLUTION = 0.05  # semitones: pyin's pitch grid (its default, 0.1, would round errors to 10 cents)


@dataclass(frozen=True)
class TimbreConfig:
    steps: int = 1500
    batch: int = 8
    segment_frames: int = 192  # 0.51 s
    learning_rate: float = 2e-3
    validate_every: int = 100
    val_fraction: float = 0.1
    seed: int = 0
    threads: int = 2


@dataclass(frozen=True)
class Recording:
    """Audio trimmed to whole frames, with its features per frame."""

    audio: np.ndarray  # [n * HOP]
    f0_hz: np.ndarray  # [n]
    confidence: np.ndarray
    loudness_db: np.ndarray

    def frames(self) -> int:
        return len(self.f0_hz)


def analyse(model: TimbreModel, audio: np.ndarray) -> Recording:
    audio = np.ascontiguousarray(audio[: len(audio) - len(audio) % HOP], np.float32)
    with torch.no_grad():
        f0, confidence, loudness = model.features(torch.from_numpy(audio)[None])
    return Recording(audio, f0[0].numpy(), confidence[0].numpy(), loudness[0].numpy())


def split(recording: Recording, fraction: float) -> tuple[Recording, Recording]:
    cut = int(recording.frames() * (1 - fraction))
    first = Recording(recording.audio[: cut * HOP], recording.f0_hz[:cut], recording.confidence[:cut], recording.loudness_db[:cut])
    rest = Recording(recording.audio[cut * HOP :], recording.f0_hz[cut:], recording.confidence[cut:], recording.loudness_db[cut:])
    return first, rest


def mss_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT distance between [B, T] signals: mean over FFT sizes of
    L1(|S|) + L1(log |S|)."""
    total = predicted.new_zeros(())
    for size in FFT_SIZES:
        window = torch.hann_window(size, device=predicted.device)
        spectra = [torch.stft(x, size, size // 4, window=window, return_complex=True).abs() for x in (predicted, target)]
        total = total + (spectra[0] - spectra[1]).abs().mean()
        total = total + (torch.log(spectra[0] + 1e-5) - torch.log(spectra[1] + 1e-5)).abs().mean()
    return total / len(FFT_SIZES)


def mss_distance(predicted: np.ndarray, target: np.ndarray, chunk: int = 10 * RATE) -> float:
    """``mss_loss`` over long signals, averaged over chunks of 10 s."""
    values, weights = [], []
    for start in range(0, len(target), chunk):
        a = torch.from_numpy(np.ascontiguousarray(predicted[start : start + chunk]))[None]
        b = torch.from_numpy(np.ascontiguousarray(target[start : start + chunk]))[None]
        if b.shape[1] < max(FFT_SIZES):
            continue
        values.append(float(mss_loss(a, b)))
        weights.append(b.shape[1])
    return float(np.average(values, weights=weights))


def _batch(recordings: Sequence[Recording], config: TimbreConfig, rng: np.random.Generator):
    frames = config.segment_frames
    usable = [r for r in recordings if r.frames() > frames]
    weights = np.array([r.frames() for r in usable], np.float64)
    picks = rng.choice(len(usable), size=config.batch, p=weights / weights.sum())
    f0, confidence, loudness = (np.zeros((config.batch, frames), np.float32) for _ in range(3))
    audio = np.zeros((config.batch, frames * HOP), np.float32)
    for row, index in enumerate(picks):
        recording = usable[index]
        start = int(rng.integers(0, recording.frames() - frames))
        f0[row] = recording.f0_hz[start : start + frames]
        confidence[row] = recording.confidence[start : start + frames]
        loudness[row] = recording.loudness_db[start : start + frames]
        audio[row] = recording.audio[start * HOP : (start + frames) * HOP]
    return tuple(torch.from_numpy(x) for x in (f0, confidence, loudness, audio))


def render(model: TimbreModel, audio: np.ndarray, params: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """The style's streaming path on a whole signal (zero state), as it runs in the host."""
    audio = audio[: len(audio) - len(audio) % HOP]
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(audio, np.float32))[None, None], torch.tensor([list(params)]))
    return out[0, 0].numpy()


def validation_distance(model: TimbreModel, recordings: Sequence[Recording]) -> float:
    model.eval()
    values = [mss_distance(render(model, r.audio), r.audio) for r in recordings]
    return float(np.mean(values))


def train_timbre(
    model: TimbreModel,
    recordings: Sequence[Recording],
    config: TimbreConfig,
    progress: Progress | None = None,
) -> tuple[History, list[Recording]]:
    """Train in place on all but the last ``val_fraction`` of each recording; keeps the best
    weights by validation distance. Returns the history and the held-out parts."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    pairs = [split(r, config.val_fraction) for r in recordings]
    train_set = [p[0] for p in pairs]
    val_set = [p[1] for p in pairs if p[1].frames() * HOP >= max(FFT_SIZES)]
    if not any(r.frames() > config.segment_frames for r in train_set):
        seconds = config.segment_frames * HOP / RATE
        raise ConfigError(f"not enough audio to train on: need recordings longer than {seconds / (1 - config.val_fraction):.1f} s")
    params = torch.zeros(config.batch, model.num_params)

    def segment_loss() -> torch.Tensor:
        f0, confidence, loudness, audio = _batch(train_set, config, rng)
        return mss_loss(model.render_features(f0, confidence, loudness, params), audio)

    validation = (lambda: validation_distance(model, val_set)) if val_set else None
    history = optimise(model, config.steps, config.learning_rate, segment_loss, validation, config.validate_every, progress)
    return history, val_set


def harmonic_baseline(model: TimbreModel, recording: Recording) -> np.ndarray:
    """A plain harmonic oscillator at the recording's own pitch: 1/k amplitudes, gated by the
    same voicing, its RMS matched frame by frame to the recording's loudness."""
    harmonics = model.synth.harmonics
    f0 = torch.from_numpy(recording.f0_hz)[None]
    orders = torch.arange(1, harmonics + 1, dtype=torch.float32)
    shape = (1.0 / orders)[None, None, :] * model.synth.alias_mask(f0)
    rms = torch.from_numpy(10 ** (recording.loudness_db / 20.0))[None, :, None]
    voiced = ramp_between(torch.from_numpy(recording.confidence), *VOICED_CONFIDENCE)[None, :, None]
    amps = shape / torch.sqrt((shape**2).sum(dim=2, keepdim=True) / 2) * rms * voiced
    bands = torch.zeros(1, recording.frames(), model.synth.bands)
    with torch.no_grad():
        out, *_ = model.synth.step(f0, amps, bands, *model.synth.initial_state(1))
    return out[0].numpy()


def sound_distance(model: TimbreModel, recordings: Sequence[Recording]) -> dict:
    style = [mss_distance(render(model, r.audio), r.audio) for r in recordings]
    baseline = [mss_distance(harmonic_baseline(model, r), r.audio) for r in recordings]
    seconds = sum(len(r.audio) for r in recordings) / RATE
    return {"style_mss": float(np.mean(style)), "baseline_mss": float(np.mean(baseline)), "seconds": round(seconds, 1)}


def pyin_f0(audio: np.ndarray, resolution: float = PYIN_RESOLUTION, range_hz=(55.0, 2000.0)) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    f0, voiced, _ = librosa.pyin(
        audio.astype(np.float64), fmin=range_hz[0], fmax=range_hz[1], sr=RATE, frame_length=4096, hop_length=256,
        resolution=resolution,
    )
    return f0, voiced


def pitch_error_cents(source: np.ndarray, output: np.ndarray, transpose_st: float, latency_samples: int,
                      resolution: float = PYIN_RESOLUTION, range_hz=(55.0, 2000.0)) -> dict:
    """Median |cents| between the output's f0 and the source's f0 (transposed), on frames that
    pyin calls voiced in both, the output shifted back by the declared latency. (A coarser
    ``resolution`` and a narrower ``range_hz`` make pyin faster, for tests.)"""
    output = output[latency_samples:]
    length = min(len(source), len(output))
    f0_in, voiced_in = pyin_f0(source[:length], resolution, range_hz)
    f0_out, voiced_out = pyin_f0(output[:length], resolution, range_hz)
    both = voiced_in & voiced_out & np.isfinite(f0_in) & np.isfinite(f0_out)
    cents = 1200 * np.log2(f0_out[both] / (f0_in[both] * 2 ** (transpose_st / 12)))
    return {
        "median_abs_cents": float(np.median(np.abs(cents))) if both.any() else float("nan"),
        "voiced_frames": int(both.sum()),
        "input_voiced_frames": int(voiced_in.sum()),
    }


def onset_latency(model: TimbreModel, params: Sequence[float] = (0.0, 0.0, 0.0)) -> int:
    """Samples from a tone's onset to the output reaching half its steady level (RMS over
    5 ms windows), at the style's default knobs: the latency a timbre style declares and
    that ``stylerack validate`` checks (see docs/style-format.md)."""
    from realtime.offline.validate import onset_delay

    return onset_delay(lambda audio: render(model, audio, params), RATE)
