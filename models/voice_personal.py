"""``stylerack train voice``: a personal voice style, fitted to recordings of a target speaker.

No network and no content encoder: the shipped voices' PSOLA (``models.voice``) with a
``PersonalMapping``:

- **pitch statistics**: the target's log-f0 mean and spread (standard deviation), from the
  style's own tracker on the target's confidently voiced frames (the 5-frame median the style
  follows). The style learns the *input's* mean and spread as it plays and maps one onto the
  other, frame by frame. With ``--source`` (recordings of the voice that will go in) it starts
  from the source's statistics, so the first word is already right; without, it starts from the
  target's (nothing moves) and settles within a few seconds of speech.
- **formants**: moved by ``FORMANT_PER_PITCH`` x the difference of the pitch means.
- **spectral envelope** (``--source`` only): the target's long-term spectrum over the source's
  *after* the pitch and formant mapping, 1/3-octave smooth, at most +-12 dB, measured only where
  both have something to show (elsewhere held, but never a boost), as a minimum-phase FIR (no
  latency). Without a source there is nothing to compare the target with, so no EQ.

Tried on a tuning split (fitted on flite's Harvard sentences 29-40, scored on 21-28; the bench
uses 1-20), not kept: mel-cepstral distortion reductions for awb->rms, rms->slt, kal->slt and
slt->kal are 12 / 39 / 40 / 29% as shipped. A formant offset of -1 / +1 semitone on top of the
rule above gave 10 / 36 / 38 / 28% and 13 / 42 / 38 / 27%: no constant helps every pair, and a
per-pair choice would gain about a point on average. Two envelopes instead of one, fitted on the
voiced and on the unvoiced frames apart and blended by voicing (Harvest's, offline), gave 11 / 39
/ 42 / 30%. A long-term mapping cannot move the phone-by-phone difference between two speakers;
between two men (awb, rms) that is nearly all of their distance.

Breathiness is not modelled. Refusals, one line naming the folder or file: no recordings, an
unreadable or silent file, under ``MIN_VOICED_SECONDS`` of voiced speech, an existing output.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from models.export import export_style
from models.match import minimum_phase_fir, smooth_fractional_octave
from models.pitch import HOP, RATE, PitchLoudness
from models.timbre_recipes import read_target_folder
from models.voice import (
    ARCH, DEVIATION_CAP_ST, EQ_TAPS, LEVEL_GATE_DB, SMOOTHING, SPREAD_PER_DEVIATION, SUBHARMONIC_RATIO,
    PRIOR_FRAMES_SOURCE, STATS_MAX_F0_HZ, VOICED_CONFIDENCE, PersonalMapping, VoiceModel,
)
from models.voice_recipes import PROBE_TONES_HZ, DeclaredOnset, VoiceRecipe, declared_onset, voice_manifest
from models.outputs import style_outputs
from realtime.errors import ConfigError

MIN_VOICED_SECONDS = 8.0  # about 20 s of ordinary speech
EQ_LIMIT_DB = 12.0
EQ_SMOOTH_OCTAVES = 1 / 3
EQ_BAND_HZ = (80.0, 12000.0)  # measured here; the curve is held beyond
#: ... and only where both spectra are within this of their peaks: a voice's fricatives sit 40-55
#: dB under its peak at 5-7 kHz, and a 40 dB limit (tried) left them unmatched (awb toward rms:
#: word error rate 38% -> 50%); a narrow-band recording's empty top lies 70 dB and more below
MEASURED_DB = 60.0
WELCH_SEGMENT = 2048


def voiced_log_f0(audio: np.ndarray) -> np.ndarray:
    """Natural log of f0 (Hz) on the frames the style itself calls confidently voiced: the
    tracker's confidence above the voicing threshold and the level above the gate, f0 the
    median over ``SMOOTHING`` frames as the style follows it, at most ``STATS_MAX_F0_HZ`` (as
    the style counts the input's frames)."""
    tracker = PitchLoudness(subharmonic_ratio=SUBHARMONIC_RATIO)
    frames = len(audio) // HOP
    with torch.no_grad():
        f0, confidence, loudness, _, _ = tracker.step(torch.from_numpy(audio[: frames * HOP]).float()[None],
                                                      *PitchLoudness.initial_state(1))
    f0, confidence, loudness = (t[0].double().numpy() for t in (f0, confidence, loudness))
    padded = np.pad(f0, SMOOTHING // 2, mode="edge")
    median = np.median(np.lib.stride_tricks.sliding_window_view(padded, SMOOTHING), axis=1)
    sure = (confidence > VOICED_CONFIDENCE[1]) & (loudness > LEVEL_GATE_DB) & (median <= STATS_MAX_F0_HZ)
    return np.log(median[sure])


def pitch_statistics(recordings: list[np.ndarray], where: str) -> tuple[float, float, float]:
    """(mean, spread, voiced seconds) of log-f0 over ``recordings``; refuses too little voice."""
    log_f0 = np.concatenate([voiced_log_f0(r) for r in recordings])
    seconds = len(log_f0) * HOP / RATE
    if seconds < MIN_VOICED_SECONDS:
        raise ConfigError(f"{where}: only {seconds:.1f} s of voiced speech found (need {MIN_VOICED_SECONDS:.0f} s: "
                          "about 20 s of one person speaking)")
    mean = float(np.mean(log_f0))
    deviation = np.minimum(np.abs(log_f0 - mean), DEVIATION_CAP_ST * math.log(2) / 12)
    return mean, float(SPREAD_PER_DEVIATION * deviation.mean()), seconds


def long_term_db(recordings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Long-term power spectrum (dB) over the recordings' active parts (within 50 dB of the
    loudest 10 ms frames)."""
    from scipy.signal import welch

    parts = []
    for audio in recordings:
        frames = audio[: len(audio) // 480 * 480].reshape(-1, 480)
        level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
        parts.append(frames[level > level.max() - 50].ravel())
    freqs, power = welch(np.concatenate(parts), RATE, nperseg=WELCH_SEGMENT)
    return freqs, 10 * np.log10(power + 1e-20)


def eq_curve_db(source_out: list[np.ndarray], target: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The target's long-term spectrum over the mapped source's, smoothed, its mean over the
    speech band removed (level is not the EQ's), limited, and held flat outside ``EQ_BAND_HZ``."""
    freqs, mapped = long_term_db(source_out)
    _, wanted = long_term_db(target)
    gain = smooth_fractional_octave(freqs, wanted - mapped, EQ_SMOOTH_OCTAVES)
    # only where both recordings have something to show (not a narrow-band recording's empty
    # top); elsewhere the nearest measured gain, never a boost: boosting what the source does not
    # have would only raise its noise and the grains' edges
    band = ((freqs >= EQ_BAND_HZ[0]) & (freqs <= EQ_BAND_HZ[1]) & (mapped > mapped.max() - MEASURED_DB)
            & (wanted > wanted.max() - MEASURED_DB))
    gain = np.clip(gain - gain[band].mean(), -EQ_LIMIT_DB, EQ_LIMIT_DB)
    held = np.interp(freqs, freqs[band], gain[band])
    return freqs, np.where(band, held, np.minimum(held, 0.0))


def render(model: VoiceModel, audio: np.ndarray, pitch: float = 0.0, formant: float = 0.0) -> np.ndarray:
    """``model`` over ``audio`` from zero state (the streaming path), the same length."""
    frames = -(-len(audio) // HOP) * HOP
    x = torch.zeros(1, 1, frames)
    x[0, 0, : len(audio)] = torch.from_numpy(audio)
    with torch.no_grad():
        return model(x, torch.tensor([[pitch, formant]]))[0, 0, : len(audio)].numpy()


def fit_personal(target: list[np.ndarray], source: list[np.ndarray] | None, target_where: str,
                 source_where: str | None = None, progress=None) -> tuple[PersonalMapping, dict]:
    def stage(name: str, done: float) -> None:
        if progress is not None:
            progress(name, done)

    stage("target's pitch", 0.05)
    target_mean, target_spread, target_seconds = pitch_statistics(target, target_where)
    report = {"target_voiced_seconds": round(target_seconds, 1)}
    if source is None:
        mapping = PersonalMapping(target_mean, target_spread, target_mean, target_spread)
        stage("done", 1.0)
        return mapping, report
    stage("source's pitch", 0.25)
    source_mean, source_spread, source_seconds = pitch_statistics(source, source_where)
    report["source_voiced_seconds"] = round(source_seconds, 1)
    mapping = PersonalMapping(target_mean, target_spread, source_mean, source_spread, prior_frames=PRIOR_FRAMES_SOURCE)
    stage("source through the mapping", 0.45)
    mapped = [render(VoiceModel("shift", mapping).eval(), audio) for audio in source]
    stage("spectral envelope", 0.9)
    freqs, gain = eq_curve_db(mapped, target)
    fir = minimum_phase_fir(freqs, gain, taps=EQ_TAPS)
    report["eq_db_range"] = [round(float(gain.min()), 1), round(float(gain.max()), 1)]
    stage("done", 1.0)
    return PersonalMapping(target_mean, target_spread, source_mean, source_spread, tuple(float(v) for v in fir),
                           PRIOR_FRAMES_SOURCE), report


def manifest_for(name: str, mapping: PersonalMapping, onset: DeclaredOnset, target_where: str,
                 source_where: str | None) -> dict:
    description = (f"Moves a voice toward the speaker in '{Path(target_where).name}': pitch statistics, "
                   f"formants{' and spectral envelope' if mapping.eq is not None else ''}.")
    manifest = voice_manifest(VoiceRecipe(name, "shift", 0.0, 0.0, description), onset)
    manifest["provenance"] = {
        "source": "stylerack train voice (pitch-synchronous overlap-add, models/voice.py, with a personal mapping)",
        "architecture": ARCH,
        "weights": 0,
        "target": Path(target_where).name,
        "match_source": Path(source_where).name if source_where else None,
        "mapping": mapping.summary(),
        "date": datetime.date.today().isoformat(),
    }
    return manifest


def train_voice(target_folder: Path, name: str, out_dir: Path, source_folder: Path | None = None,
                overwrite: bool = False, progress=None) -> dict:
    """Fit, export (verified like every style) and report a personal voice: NAME.onnx and NAME.json."""
    paths = style_outputs(Path(out_dir), name, ("onnx", "json"), overwrite)
    started = time.perf_counter()
    target = read_target_folder(Path(target_folder))
    source = read_target_folder(Path(source_folder)) if source_folder is not None else None
    mapping, report = fit_personal(target, source, str(target_folder), str(source_folder) if source_folder else None,
                                   progress)
    model = VoiceModel("shift", mapping).eval()
    # a personal voice's onset depends on the input's pitch (a low voice moved up starts later):
    # the latency declared is the latest onset over the probe tones and the source's own mean
    probes = (*PROBE_TONES_HZ, *([round(math.exp(mapping.prior_mean), 1)] if source is not None else []))
    onset = declared_onset(model, VoiceRecipe(name, "shift", 0.0, 0.0, ""), probes)
    manifest = manifest_for(name, mapping, onset, str(target_folder), str(source_folder) if source_folder else None)
    exported = export_style(model, manifest, paths["onnx"], overwrite=True)
    report = {"style": str(paths["onnx"]), "mapping": mapping.summary(), **report, **onset.report(),
              "seconds": round(time.perf_counter() - started, 1), **exported.numbers()}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    return report
