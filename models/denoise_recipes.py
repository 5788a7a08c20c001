"""The shipped restoration style ``speech-denoise``: ``stylerack train recipe speech-denoise``
trains ``models.denoise.DenoiseModel`` from nothing on package audio (``models/denoise_train.py``),
writes its checkpoint, loss curve and report to ``models/checkpoints/`` and exports the style
through the usual checks; ``--evaluate-only`` re-exports the committed checkpoint.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from models.denoise import ARCH, HOP, LATENCY, RATE, STRENGTH
from models.denoise_material import si_sdr_db
from models.denoise_train import SEGMENT_S, VALIDATION_LANGUAGES, Material, example, load_material, train
from models.export import export_style, load_checkpoint, save_checkpoint
from models.timbre_recipes import read_target_folder
from models.train import plot_history
from models.outputs import TRAINED_FILES, output_paths, style_outputs
from realtime.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
STYLES_DIR = ROOT / "realtime" / "styles"
CHECKPOINTS_DIR = ROOT / "models" / "checkpoints"
NAME = "speech-denoise"
STEPS = 9000
BATCH = 12
DENOISE_RECIPES = {NAME: "Takes noise out of speech (hum, hiss, fans, machines, crowds) within 20 ms; "
                         "strength below 1 leaves a floor of the natural noise."}


def denoise_manifest(name: str, weights: int, steps: int, seconds: float, best_loss: float) -> dict:
    return {
        "schema": 1,
        "name": name,
        "description": DENOISE_RECIPES.get(name, DENOISE_RECIPES[NAME]),
        "category": "restoration",
        "sample_rate": RATE,
        "channels": 1,
        "block_multiple": HOP,
        "latency_samples": LATENCY,
        "latency_probe_params": {"strength": 0.0},
        "params": [STRENGTH],
        "provenance": {
            "source": "ERB-band gains and a deep filter below 4.75 kHz from a GRU over 20 ms frames (models/denoise.py)",
            "architecture": ARCH,
            "weights": weights,
            "training_data": "models/denoise_material.py 'train' split (KLettres' other languages less "
            f"{', '.join(VALIDATION_LANGUAGES)}, Fish Fillets' elk, flite awb/rms/kal on Harvard lists 1-2, "
            "gcin-voice's syllables, Festival's Italian, Czech and Catalan women's voices on lists 1-2; "
            "OpenSFX train recordings and generated noise; synthetic rooms), "
            f"{SEGMENT_S:g} s examples made on the fly (models/denoise_train.py)",
            "training_steps": steps,
            "training_seconds": round(seconds, 1),
            "best_validation_loss": round(best_loss, 5),
            "date": datetime.date.today().isoformat(),
            "recipe": f"stylerack train recipe {name}",
        },
    }


def make_denoise_style(name: str = NAME, steps: int | None = None, progress=None, evaluate_only: bool = False,
                       out_dir: Path = STYLES_DIR) -> dict:
    """Train (or, ``evaluate_only``, reload) and export the speech-denoise style; returns its report."""
    if name not in DENOISE_RECIPES:
        raise KeyError(f"unknown restoration recipe '{name}' (recipes: {', '.join(DENOISE_RECIPES)})")
    paths = output_paths(CHECKPOINTS_DIR, name, style_dir=out_dir)
    if evaluate_only:
        model, manifest = load_checkpoint(paths["pt"])
        manifest["description"] = DENOISE_RECIPES[name]
    else:
        model, history = train(steps or STEPS, BATCH, progress)
        weights = sum(p.numel() for p in model.parameters())
        manifest = denoise_manifest(name, weights, steps or STEPS, history.seconds, history.best_val_esr)
        CHECKPOINTS_DIR.mkdir(parents=True, exist_ok=True)
        save_checkpoint(model, manifest, paths["pt"])  # first: an export failure keeps the training
        plot_history(history, paths["loss.png"], f"{name} ({ARCH})", metric="compressed-spectrum loss", reference=None)
    export = export_style(model, manifest, paths["onnx"])
    report = {"name": name, **{k: manifest["provenance"][k] for k in ("training_steps", "training_seconds",
                                                                        "best_validation_loss")}, **export.numbers()}
    paths["report.json"].write_text(json.dumps(report, indent=2) + "\n")
    return report


# ---- adapting the shipped style to a user's own noise ------------------------------------------

ADAPT_STEPS = 300
ADAPT_LEARNING_RATE = 4e-4
MIN_NOISE_SECONDS = 8.0
HELD_OUT_SHARE = 0.25  # the end of each noise recording, never trained on: the before/after scores
USER_NOISE_SHARE = 0.8  # of the noises drawn while adapting; the rest keeps the general noises in mind
SCORE_SNRS_DB = (0.0, 5.0, 10.0)
SCORE_ITEMS = 12


def split_noise(recordings: list, folder: Path) -> tuple[list, list]:
    """(training parts, held-out parts): the last HELD_OUT_SHARE of every recording is held out."""
    total = sum(len(r) for r in recordings) / RATE
    if total < MIN_NOISE_SECONDS:
        raise ConfigError(f"{folder}: only {total:.1f} s of noise (need {MIN_NOISE_SECONDS:.0f} s: record your fan or room "
                          "for a little longer)")
    train_parts, held_out = [], []
    for recording in recordings:
        cut = int(len(recording) * (1 - HELD_OUT_SHARE))
        train_parts.append(recording[:cut])
        held_out.append(recording[cut:])
    return train_parts, held_out


def score_on_noise(models: dict, validation: Material, noises: list, seed: int = 11) -> dict:
    """Mean SI-SDR (dB) of each model's output (and of the noisy input) on SCORE_ITEMS mixtures of
    the validation speakers' speech and ``noises`` at SCORE_SNRS_DB, scored against the validation
    material's targets."""
    material = replace(validation, noises=noises)
    length = int(SEGMENT_S * RATE) // HOP * HOP
    results: dict[str, list[float]] = {"noisy": [], **{name: [] for name in models}}
    for k in range(SCORE_ITEMS):
        rng = np.random.default_rng([seed, k])
        noisy, target = example(material, rng, length, snr_db=SCORE_SNRS_DB[k % len(SCORE_SNRS_DB)], room=False)
        if not np.any(target):
            continue
        results["noisy"].append(si_sdr_db(target, noisy))
        for name, model in models.items():
            with torch.no_grad():
                out = model(torch.from_numpy(noisy)[None, None], torch.ones(1, 1))[0, 0].numpy()
            results[name].append(si_sdr_db(target[: length - LATENCY], out[LATENCY:]))  # the style's delay removed
    return {name: round(float(np.mean(values)), 2) for name, values in results.items()}


def adapt_to_noise(folder: Path, name: str, out_dir: Path, overwrite: bool = False, steps: int = ADAPT_STEPS,
                   progress=None, stage=lambda _: None) -> dict:
    """A new restoration style: the shipped speech-denoise, trained on for ``steps`` with the
    noise recordings in ``folder``; writes NAME.onnx, NAME.pt, NAME.report.json, NAME.loss.png."""
    out_dir = Path(out_dir)
    paths = style_outputs(out_dir, name, TRAINED_FILES, overwrite, new_folder_ok=True)
    recordings = read_target_folder(folder)
    train_noise, held_out_noise = split_noise(recordings, Path(folder))
    shipped = output_paths(CHECKPOINTS_DIR, NAME)["pt"]
    base, _ = load_checkpoint(shipped)
    adapted, _ = load_checkpoint(shipped)
    stage("reading the training speech and noise")
    general, validation = load_material()
    repeats = max(1, int(round(USER_NOISE_SHARE / (1 - USER_NOISE_SHARE) * len(general.noises) / len(train_noise))))
    own_noise = [n.astype(np.float32) for n in train_noise]
    mixed = replace(general, noises=own_noise * repeats + general.noises)
    before = score_on_noise({"shipped": base}, validation, held_out_noise)
    # the checkpoint kept is the best on validation speakers in the user's noise (its training
    # part: the held-out part is only for the report); chosen on the general validation noise,
    # it was the least adapted one
    own_validation = replace(validation, noises=own_noise)
    adapted.train()
    adapted, history = train(steps, progress=progress, material=(mixed, own_validation), model=adapted,
                             learning_rate=ADAPT_LEARNING_RATE, validate_every=max(steps // 6, 1))
    after = score_on_noise({"adapted": adapted}, validation, held_out_noise)
    weights = sum(p.numel() for p in adapted.parameters())
    manifest = denoise_manifest(name, weights, steps, history.seconds, history.best_val_esr)
    manifest["description"] = f"{DENOISE_RECIPES[NAME]} Adapted to the noise in '{Path(folder).name}'."
    manifest["provenance"]["source"] += f", adapted to {len(recordings)} noise recording(s) in '{Path(folder).name}'"
    manifest["provenance"]["recipe"] = f"stylerack train denoise --noise {Path(folder).name} --name {name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(adapted, manifest, paths["pt"])
    plot_history(history, paths["loss.png"], f"{name} (adapted {ARCH})", metric="compressed-spectrum loss",
                 reference=None)
    export = export_style(adapted, manifest, paths["onnx"])
    report = {
        "name": name, "noise_recordings": len(recordings),
        "noise_seconds": round(sum(len(r) for r in recordings) / RATE, 1),
        "held_out_seconds": round(sum(len(r) for r in held_out_noise) / RATE, 1),
        "held_out_si_sdr_db": {"noisy": before["noisy"], "shipped": before["shipped"], "adapted": after["adapted"]},
        "held_out_snrs_db": list(SCORE_SNRS_DB), "steps": steps, "training_seconds": round(history.seconds, 1),
        **export.numbers(),
    }
    paths["report.json"].write_text(json.dumps(report, indent=2) + "\n")
    return report
