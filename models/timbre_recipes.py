"""Timbre styles: the shipped instruments (``stylerack train recipe violin``) and a user's own
(``stylerack train timbre --target FOLDER --name NAME``).

Both train ``models.timbre.TimbreModel`` on monophonic recordings, export it with its
measured onset latency declared (``latency_probe: "onset"``), and write a checkpoint, a
report (JSON) and a loss curve next to it.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from models import timbre_material
from models.material import read_mono
from models.export import export_style, load_checkpoint, save_checkpoint
from models.pitch import HOP, RATE
from models.timbre import ARCH, PARAMS, TimbreModel
from models.timbre_train import (
    TimbreConfig, analyse, onset_latency, pitch_error_cents, render, sound_distance, train_timbre,
)
from models.train import Progress, plot_history
from models.outputs import TRAINED_FILES, output_paths, style_outputs
from realtime.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS_DIR = ROOT / "models" / "checkpoints"
STYLES_DIR = ROOT / "realtime" / "styles"
DATA_DIR = ROOT / "data" / "material"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff")
MIN_VOICED_SECONDS = 5.0


@dataclass(frozen=True)
class TimbreRecipe:
    name: str
    description: str
    transpose_default: float  # semitones: where a voice lands in the instrument's range
    steps: int = 1200


TIMBRE_RECIPES = {
    r.name: r
    for r in (
        TimbreRecipe("violin", "Sing or whistle, hear a violin (follows pitch and dynamics).", 12.0),
        TimbreRecipe("flute", "Sing or whistle, hear a flute (follows pitch and dynamics).", 12.0),
        TimbreRecipe("trumpet", "Sing or whistle, hear a trumpet (follows pitch and dynamics).", 0.0),
    )
}


def manifest_for(name: str, description: str, transpose_default: float, latency: int, provenance: dict) -> dict:
    params = [dict(p) for p in PARAMS]
    params[0]["default"] = float(transpose_default)
    return {
        "schema": 1, "name": name, "description": description, "category": "timbre", "sample_rate": RATE,
        "channels": 1, "block_multiple": HOP, "latency_samples": int(latency), "latency_probe": "onset",
        "params": params, "provenance": provenance,
    }


def _finish(model: TimbreModel, manifest: dict, history, paths: dict[str, Path], extra: dict) -> dict:
    """Checkpoint first (an export failure keeps the training), then the plot, style and report
    (``paths``: ``models.outputs.TRAINED_FILES`` by suffix)."""
    paths["pt"].parent.mkdir(parents=True, exist_ok=True)
    name = manifest["name"]
    save_checkpoint(model, manifest, paths["pt"])
    if history is not None:
        plot_history(history, paths["loss.png"], f"{name} (timbre)", metric="MSS distance", reference=None)
    export = export_style(model, manifest, paths["onnx"])
    report = {
        "name": name,
        **extra,
        "latency_samples": manifest["latency_samples"],
        "latency_ms": round(manifest["latency_samples"] / RATE * 1000, 2),
        **export.numbers(),
    }
    paths["report.json"].write_text(json.dumps(report, indent=2) + "\n")
    return report


def make_timbre_style(name: str, steps: int | None = None, progress: Progress | None = None,
                      data_dir: Path = DATA_DIR, evaluate_only: bool = False) -> dict:
    """Re-create a shipped instrument from scratch (or re-measure and re-export its checkpoint)."""
    recipe = TIMBRE_RECIPES[name]
    paths = output_paths(CHECKPOINTS_DIR, name, style_dir=STYLES_DIR)
    history = None
    if evaluate_only:
        model, saved = load_checkpoint(paths["pt"])
        steps, seconds = saved["provenance"]["training_steps"], saved["provenance"]["training_seconds"]
    else:
        model = TimbreModel()
        recording = analyse(model, timbre_material.instrument(name, "train", data_dir))
        history, _ = train_timbre(model, [recording], replace(TimbreConfig(), steps=steps or recipe.steps), progress)
        steps, seconds = history.steps[-1], history.seconds
    held_out = analyse(model, timbre_material.instrument(name, "eval", data_dir))
    sound = sound_distance(model, [held_out])
    params = (recipe.transpose_default, 0.0, 0.0)
    latency = onset_latency(model, params)
    following = {}
    for source, audio in timbre_material.voice_inputs(data_dir).items():
        following[source] = pitch_error_cents(audio, render(model, audio, params), recipe.transpose_default, latency)
    program = timbre_material.INSTRUMENTS[name][0]
    provenance = {
        "source": f"timbre transfer trained on General MIDI program {program} ('{name}') rendered with fluidsynth",
        "architecture": f"{ARCH}: YIN pitch + loudness, GRU decoder ({model.config['hidden']}), "
        f"{model.config['harmonics']} harmonics + {model.config['bands']} noise bands",
        "weights": sum(p.numel() for p in model.parameters()),
        "training_data": f"models/timbre_material.py '{name}' train melodies ({timbre_material.SECONDS['train']:.0f} s)",
        "eval_data": f"held-out '{name}' melodies ({timbre_material.SECONDS['eval']:.0f} s, other seed)",
        "mss_distance": round(sound["style_mss"], 4),
        "mss_distance_harmonic_baseline": round(sound["baseline_mss"], 4),
        "pitch_error_cents": {k: round(v["median_abs_cents"], 2) for k, v in following.items()},
        "training_steps": steps,
        "training_seconds": round(seconds, 1),
        "date": datetime.date.today().isoformat(),
        "recipe": f"stylerack train recipe {name}",
    }
    manifest = manifest_for(name, recipe.description, recipe.transpose_default, latency, provenance)
    extra = {"held_out_sound": sound, "pitch_following": following, "steps": steps, "training_seconds": seconds}
    if history is not None:
        extra["best_val_mss"] = history.best_val_esr
    return _finish(model, manifest, history, paths, extra)


def read_target_folder(folder: Path) -> list[np.ndarray]:
    """Every audio file in ``folder`` as mono float32 at 48 kHz; one-line errors naming the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder of recordings")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ConfigError(f"{folder}: no recordings ({', '.join(AUDIO_SUFFIXES)}) in it")
    recordings = []
    for path in files:
        try:
            mono = read_mono(path)
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise ConfigError(f"{path}: cannot read it as audio ({exc})") from None
        peak = float(np.abs(mono).max()) if len(mono) else 0.0
        if peak < 1e-3:
            raise ConfigError(f"{path}: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")
        recordings.append(mono)
    return recordings


def train_from_folder(folder: Path, name: str, steps: int, out_dir: Path, overwrite: bool,
                      transpose_default: float = 0.0, progress: Progress | None = None) -> dict:
    paths = style_outputs(Path(out_dir), name, TRAINED_FILES, overwrite, new_folder_ok=True)
    model = TimbreModel()
    recordings = [analyse(model, audio) for audio in read_target_folder(folder)]
    voiced = sum(float((r.confidence > 0.65).sum()) for r in recordings) * HOP / RATE
    if voiced < MIN_VOICED_SECONDS:
        raise ConfigError(
            f"{folder}: only {voiced:.1f} s of clearly pitched sound found (need {MIN_VOICED_SECONDS:.0f} s; "
            "monophonic recordings of one instrument)"
        )
    config = replace(TimbreConfig(), steps=steps)
    history, held_out = train_timbre(model, recordings, config, progress)
    sound = sound_distance(model, held_out) if held_out else None
    latency = onset_latency(model, (transpose_default, 0.0, 0.0))
    provenance = {
        "source": f"timbre transfer trained on the recordings in '{Path(folder).name}'",
        "architecture": f"{ARCH}: YIN pitch + loudness, GRU decoder, harmonics + noise bands",
        "weights": sum(p.numel() for p in model.parameters()),
        "training_data": f"{len(recordings)} recordings, {voiced:.0f} s pitched",
        "training_steps": steps,
        "training_seconds": round(history.seconds, 1),
        "date": datetime.date.today().isoformat(),
    }
    if sound:
        provenance["mss_distance"] = round(sound["style_mss"], 4)
        provenance["mss_distance_harmonic_baseline"] = round(sound["baseline_mss"], 4)
    manifest = manifest_for(name, f"Timbre transfer to '{name}' (trained from your recordings).", transpose_default, latency, provenance)
    extra = {"held_out_sound": sound, "pitched_seconds": round(voiced, 1), "steps": steps, "training_seconds": history.seconds}
    return _finish(model, manifest, history, paths, extra)
