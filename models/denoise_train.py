"""Training the speech-denoise style: noisy/clean pairs made on the fly from package audio.

Material (``models/denoise_material.py`` holds the split rule ``split_of`` and the loaders): the
train split's speech (KLettres' other languages, Fish Fillets' elk, flite's awb, rms and kal on
Harvard lists 1-2, gcin-voice's syllables, three Festival voices on lists 1-2) less VALIDATION_LANGUAGES, which are kept for validation; noise from the
train split's OpenSFX recordings and generated noise (pink, brown, hum, babble of train
speakers, bursts, white) at train seeds. Validation uses its own speakers and generated noise
only, so no speaker or noise recording is shared between training, validation and the
benchmark's test split.

An example: 0.1-0.4 s of silence, then units of one speaker with 0.05-0.4 s gaps, to
SEGMENT_S; in a room (a synthetic exponentially decaying response, RT60 0.15-0.8 s) for
ROOM_SHARE of them, where the target keeps the direct sound and the first 50 ms only; its
active level -45..-15 dBFS; one or two noises at SNR -5..25 dB (no speech in NOISE_ONLY_SHARE).
The input's speech is the units as recorded, and so is the target's. With TARGETS_WITHOUT_FLOOR
(``load_material(without_floor=True)``) the target's is the same units with their recording's own
steady background taken out (``models/speech_floor.py``): many of the recordings carry one 20-35
dB under the voice (KLettres' Malayalam, Hungarian, Hebrew, Arabic...), and the idea was that a
target keeping it teaches the network to keep noise like it. Trained so (the recipe's 9000 steps
from nothing), bench/denoise.py's 48 held-out items read PESQ 1.62, STOI 0.827, SI-SDR 11.6,
DNSMOS OVRL 2.24, SIG 2.67, BAK 3.22, against the shipped style's 1.66, 0.834, 12.0, 2.24, 2.66,
3.27: no better anywhere, so the recipe trains on the targets as recorded.

The loss (``spectral_loss``) compares compressed magnitude spectra (magnitude^0.3, as the
DNS-challenge systems do: it weighs the quiet parts of speech more than a plain MSE would),
OVER_SUPPRESSION_WEIGHT times more where the output falls below the target (speech taken away
sounds worse than noise left: with a symmetric loss clean speech came out 1.7 dB quieter and
DNSMOS SIG fell from 2.80 to 2.74 on validation speakers), and rewards the output's SI-SDR.
A further term was tried and not kept: the noise let through below 2 kHz where the noise
outweighs the speech in a bin (the part of the residual DNSMOS minds most), weighted 2 or 6 times
on top of the magnitude error. Fine-tuned from the shipped checkpoint (1200 steps, lr 5e-4) and
scored on 48 items of the validation speakers and noise (PESQ / STOI / SI-SDR / OVRL / BAK): the
same fine-tune without it 1.584 / 0.792 / 10.28 / 2.188 / 3.351; weight 2 1.574 / 0.780 / 9.80 /
2.216 / 3.530; weight 6 1.551 / 0.773 / 9.31 / 2.214 / 3.552. It buys 0.03 of OVRL with
intelligibility, and no more at a higher weight.

Continuous speech (``CONTINUOUS_SPEECH``, off: tried, not shipped yet). Every other source is
letters, syllables, game lines or voices built from diphones; Asterisk's telephone prompts
(``asterisk_units``: four voice talents, about 2 h of whole phrases, G.722 at 16 kHz) are read
speech by real people. Trained from nothing with them (the recipe's 9000 steps, batch 12, seed 7;
CONTINUOUS_SHARE 0.35 of the examples; the Russian voice kept for validation; 4646 s on the
2-core machine), against the shipped style (PESQ / STOI / SI-SDR / OVRL / SIG / BAK):

- bench/denoise.py's 48 test items: 1.65 / 0.841 / 12.2 / 2.24 / 2.68 / 3.19, shipped 1.66 /
  0.834 / 12.0 / 2.24 / 2.66 / 3.27 (both in one run; STOI up on every source and at 0 and 5 dB);
- the held-out Russian voice's prompts in validation noise (48 items, 0/5/10/20 dB, 4 s):
  1.492 / 0.878 / 10.42 / 2.180 / 2.746 / 2.933, shipped 1.477 / 0.865 / 10.00 / 2.211 / 2.732 /
  3.075 (noisy 1.283 / 0.862 / 6.56 / 1.753).

Intelligibility and SI-SDR rise, on continuous speech most, but the background score falls
(BAK -0.08 and -0.14) and OVRL, where the gap to RNNoise and GTCRN is, does not move: not
shipped on its own. ``load_material(continuous=True)`` reproduces it.

Both together, tried and not kept: continuous speech and the low-band term above (weight 2),
trained from nothing with the recipe's 9000 steps (5307 s; other work shared the machine for
about 4 of its first minutes). bench/denoise.py's 48 test items: 1.58 / 0.823 / 9.3 / 2.12 /
2.49 / 3.31, worse than the shipped style everywhere but BAK, and its output was about 10
samples (at 16 kHz) off the clean speech on every item, where the shipped style's is on it (a
loss weighted this far toward magnitudes seems to leave the deep filter's phase free to drift),
and SI-SDR falls 2.7 dB. The validation letters agree (1.518 / 0.763 / 7.11 / 2.110 / 2.462 /
3.512 against 1.563 / 0.778 / 10.95 / 2.157 / 2.554 / 3.388).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import fftconvolve

from models import denoise_material as dm
from models.denoise import HOP, RATE, DenoiseModel
from models.train import History

SEGMENT_S = 3.0
VALIDATION_LANGUAGES = ("nl", "pt_BR")
VALIDATION_ASTERISK_VOICES = ("ru_RU_f_IvrvoiceRU",)  # continuous speech kept for validation
CONTINUOUS_SPEECH = False  # Asterisk's prompts in the training speech: tried, not shipped yet (module docstring)
CONTINUOUS_SHARE = 0.35  # with CONTINUOUS_SPEECH, the share of examples spoken by an Asterisk voice
NOISE_ONLY_SHARE = 0.05
ROOM_SHARE = 0.4
SNR_DB = (-5.0, 25.0)
LEVEL_DBFS = (-45.0, -15.0)
NOISE_POOL = 240  # generated noise segments made once (each SEGMENT_S long), drawn from at random
VALIDATION_ITEMS = 48
TRAIN_SEED = 7
VALIDATION_SEED_BASE = 500_000  # generated noise seeds for validation (train split, never trained on)
COMPRESS = 0.3
SDR_WEIGHT = 0.001  # per dB of SI-SDR, against the compressed-magnitude MSE (about 0.03)
TARGETS_WITHOUT_FLOOR = False  # tried, not kept: see the module docstring
OVER_SUPPRESSION_WEIGHT = 3.0  # weight of the magnitude error where the output is below the target (speech lost)


@dataclass
class Material:
    speech: dict[str, list[np.ndarray]]  # speaker -> units as recorded (the noisy input's speech)
    noises: list[np.ndarray]  # noise segments to cut from (recorded clips and generated pool)
    targets: dict[str, list[np.ndarray]] | None = None  # speaker -> each unit's target (the same
    # unit without its recording's background); None: the units as recorded are their own targets


def _by_speaker(units: dict[str, np.ndarray], row: int | None = None) -> dict[str, list[np.ndarray]]:
    speakers: dict[str, list[np.ndarray]] = {}
    for name, audio in units.items():
        speakers.setdefault(dm.speaker_of(name), []).append((audio if row is None else audio[row]).astype(np.float32))
    return speakers


def load_material(progress: Callable[[str], None] = lambda _: None,
                  without_floor: bool = TARGETS_WITHOUT_FLOOR,
                  continuous: bool = CONTINUOUS_SPEECH) -> tuple[Material, Material]:
    """(training material, validation material); ``without_floor``: targets without their
    recordings' own background; ``continuous``: Asterisk's prompts too, one voice of them kept
    for validation (see the module docstring)."""
    progress("reading speech" + (" and taking its recordings' background out of the targets" if without_floor else ""))
    units = dm.speech_units("train", without_floor, continuous)
    held_out = [["klettres", lang] for lang in VALIDATION_LANGUAGES] + [["asterisk", v] for v in VALIDATION_ASTERISK_VOICES]
    validation_names = {n for n in units if n.split("/")[:2] in held_out}
    as_recorded, target = (0, 1) if without_floor else (None, None)
    train_units = {n: a for n, a in units.items() if n not in validation_names}
    validation_units = {n: units[n] for n in sorted(validation_names)}  # sorted: a set's order changes run to run
    train = _by_speaker(train_units, as_recorded)
    validation = _by_speaker(validation_units, as_recorded)
    train_targets = _by_speaker(train_units, target) if without_floor else None
    validation_targets = _by_speaker(validation_units, target) if without_floor else None
    progress("reading noise")
    recorded = [dm.trimmed(c.audio).astype(np.float32) for c in dm.opensfx_clips()
                if len(c.audio) and dm.split_of(f"opensfx/{c.index}") == "train" and len(dm.trimmed(c.audio)) >= 0.5 * RATE]
    length = int(SEGMENT_S * RATE)
    progress("making noise")
    generated = [_generated(k, length, train) for k in range(NOISE_POOL)]
    val_noise = [_generated(VALIDATION_SEED_BASE + k, length, validation) for k in range(VALIDATION_ITEMS)]
    return Material(train, recorded + generated, train_targets), Material(validation, val_noise, validation_targets)


def _generated(seed: int, length: int, speech: dict[str, list[np.ndarray]]) -> np.ndarray:
    kinds = (*dm.GENERATED_KINDS, "white")
    kind = kinds[seed % len(kinds)]
    if kind == "white":
        return np.random.default_rng([dm.SEED, seed]).standard_normal(length).astype(np.float32)
    return dm.generated_noise(kind, seed, length, speech).astype(np.float32)


def room_response(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the whole response, its direct sound and first 50 ms): exponentially decaying noise with
    RT60 0.15-0.8 s, 2 ms behind a direct path, direct-to-reverberant ratio -3..10 dB."""
    rt60 = rng.uniform(0.15, 0.8)
    t = np.arange(int(min(rt60, 0.6) * RATE)) / RATE
    whole = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    whole[: int(0.002 * RATE)] = 0.0
    whole *= np.sqrt(10 ** (-rng.uniform(-3, 10) / 10) / np.sum(whole**2))
    whole[0] = 1.0
    early = whole.copy()
    early[int(0.05 * RATE):] = 0.0
    return whole, early


def _speaker(material: Material, rng: np.random.Generator) -> str:
    """An Asterisk voice for CONTINUOUS_SHARE of the draws (where there are both kinds), else
    any other speaker, each equally likely."""
    speakers = sorted(material.speech)
    continuous = [s for s in speakers if s.startswith("asterisk/")]
    others = [s for s in speakers if not s.startswith("asterisk/")]
    if continuous and others:
        speakers = continuous if rng.random() < CONTINUOUS_SHARE else others
    return speakers[int(rng.integers(len(speakers)))]


def _speech(material: Material, rng: np.random.Generator, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(speech as recorded, its target): units of one speaker with gaps."""
    speaker = _speaker(material, rng)
    units = material.speech[speaker]
    targets = (material.speech if material.targets is None else material.targets)[speaker]
    lead = np.zeros(int(rng.uniform(0.1, 0.4) * RATE), np.float32)
    parts, target_parts, total = [lead], [lead], len(lead)
    while total < length:
        k = int(rng.integers(len(units)))
        gap = np.zeros(int(rng.uniform(0.05, 0.4) * RATE), np.float32)
        parts += [units[k], gap]
        target_parts += [targets[k], gap]
        total += len(units[k]) + len(gap)
    return np.concatenate(parts)[:length], np.concatenate(target_parts)[:length]


def _noise(material: Material, rng: np.random.Generator, length: int) -> np.ndarray:
    out = np.zeros(length, np.float32)
    for _ in range(1 + int(rng.random() < 0.3)):
        clip = material.noises[int(rng.integers(len(material.noises)))]
        piece = dm.looped(clip.astype(np.float64), length, int(rng.integers(max(len(clip) // 2, 1))))
        piece = piece * 10 ** (rng.uniform(-10, 0) / 20) / max(dm.rms(piece), 1e-9)
        out += piece.astype(np.float32)
    return out


def example(material: Material, rng: np.random.Generator, length: int, snr_db: float | None = None,
            room: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, target), float32 mono at 48 kHz, ``length`` samples; the SNR and whether in a room
    are drawn unless given."""
    speech, target = (part.astype(np.float64) for part in _speech(material, rng, length))
    in_room = rng.random() < ROOM_SHARE
    if in_room if room is None else room:
        whole, early = room_response(rng)
        speech = fftconvolve(speech, whole)[:length]
        target = fftconvolve(target, early)[:length]
    level = dm.active_rms(speech)
    if level > 0:
        gain = 10 ** (rng.uniform(*LEVEL_DBFS) / 20) / level
        speech, target = speech * gain, target * gain
    noise = _noise(material, rng, length).astype(np.float64)
    noise_only = level == 0 or (rng.random() < NOISE_ONLY_SHARE and snr_db is None)
    reference = 10 ** (rng.uniform(*LEVEL_DBFS) / 20) if noise_only else dm.active_rms(speech)
    if noise_only:
        speech, target = np.zeros_like(speech), np.zeros_like(target)
    snr = rng.uniform(*SNR_DB)
    noise *= reference * 10 ** (-(snr if snr_db is None else snr_db) / 20) / max(dm.rms(noise), 1e-12)
    noisy = speech + noise
    peak = float(np.abs(noisy).max())
    if peak > 0.99:
        noisy, target = noisy * 0.99 / peak, target * 0.99 / peak
    return noisy.astype(np.float32), target.astype(np.float32)


def batch(material: Material, rng: np.random.Generator, size: int, seconds: float = SEGMENT_S):
    length = int(seconds * RATE) // HOP * HOP
    pairs = [example(material, rng, length) for _ in range(size)]
    noisy = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
    target = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    return noisy, target


def spectral_loss(model: DenoiseModel, noisy: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Compressed-magnitude MSE (|X|^0.3, which weighs the quiet parts of speech) less a small
    multiple of the output's SI-SDR in dB (which weighs getting the loud noise out: with the
    magnitude term alone, the gains stayed far below the ideal ratio mask and SI-SDR barely moved)."""
    real, minus_imag = model.spectrum_fft(noisy[:, 0])
    state = model.initial_state(noisy.shape[0])
    full_strength = torch.ones(noisy.shape[0], 1)
    earlier = state[3] if model.filter_bins else None  # no hold in training (see models/denoise.py)
    out_real, out_imag, *_ = model.enhance(real, minus_imag, full_strength, state[1], earlier)
    ref_real, ref_imag = model.spectrum_fft(target[:, 0])
    out_mag = torch.sqrt(out_real * out_real + out_imag * out_imag + 1e-12) ** COMPRESS
    ref_mag = torch.sqrt(ref_real * ref_real + ref_imag * ref_imag + 1e-12) ** COMPRESS
    error = out_mag - ref_mag
    magnitude_term = torch.mean(error**2 + (OVER_SUPPRESSION_WEIGHT - 1.0) * torch.relu(-error) ** 2)
    out = model.synthesis_fft(out_real, out_imag)[:, HOP:]  # aligned with the target
    ref = target[:, 0, : out.shape[1]]
    ref = ref - ref.mean(dim=1, keepdim=True)
    out = out - out.mean(dim=1, keepdim=True)
    scaled = (out * ref).sum(1, keepdim=True) / (ref * ref).sum(1, keepdim=True).clamp(min=1e-8) * ref
    sdr_db = 10 * torch.log10((scaled**2).sum(1).clamp(min=1e-8) / ((out - scaled) ** 2).sum(1).clamp(min=1e-8))
    return magnitude_term - SDR_WEIGHT * sdr_db.mean()


def train(steps: int, batch_size: int = 12, progress: Callable[[int, int, float, float], None] | None = None,
          material: tuple[Material, Material] | None = None, model: DenoiseModel | None = None,
          learning_rate: float = 2e-3, seed: int = TRAIN_SEED, validate_every: int = 100) -> tuple[DenoiseModel, History]:
    """Train (or go on training ``model``) for ``steps``; returns the model at its best
    validation loss and the loss history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_material, validation_material = material or load_material()
    model = model or DenoiseModel()
    length = int(SEGMENT_S * RATE) // HOP * HOP
    validation = [example(validation_material, np.random.default_rng([seed, 1, k]), length) for k in range(VALIDATION_ITEMS)]
    val_noisy = torch.from_numpy(np.stack([v[0] for v in validation]))[:, None]
    val_target = torch.from_numpy(np.stack([v[1] for v in validation]))[:, None]
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, learning_rate, total_steps=max(steps, 1), pct_start=0.05)
    history, best_state = History(), None
    started = time.monotonic()
    for step in range(1, steps + 1):
        model.train()
        noisy, target = batch(train_material, rng, batch_size)
        loss = spectral_loss(model, noisy, target)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        optimizer.step()
        schedule.step()
        history.steps.append(step)
        history.loss.append(loss.item())
        if step % validate_every == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                val = float(spectral_loss(model, val_noisy, val_target))
            history.val_steps.append(step)
            history.val_esr.append(val)
            if val < history.best_val_esr:
                history.best_val_esr, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
        if progress:
            progress(step, steps, history.loss[-1], history.best_val_esr)
    history.seconds = time.monotonic() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history
