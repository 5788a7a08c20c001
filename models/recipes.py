"""The shipped styles: each is captured from a reference effect chain built here with
pedalboard, on material rendered here (models.material), and named in its provenance.

``make_style(name)`` re-creates one from scratch: material -> reference renders at several
knob settings -> training -> export (verified) -> ``realtime/styles/NAME.onnx`` plus the
checkpoint and report in ``models/checkpoints/``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import material
from models.arch import build
from models.export import export_style, load_checkpoint, save_checkpoint
from models.outputs import output_paths
from models.train import Example, Progress, TrainConfig, evaluate_esr, plot_history, train

ROOT = Path(__file__).resolve().parents[1]
STYLES_DIR = ROOT / "realtime" / "styles"
CHECKPOINTS_DIR = ROOT / "models" / "checkpoints"
DATA_DIR = ROOT / "data" / "material"
RATE = material.RATE


OVERSAMPLING = 4


class _Board:
    """A pedalboard chain run at 4x the rate, as an analog circuit would behave: the
    harmonics its clipping makes above 24 kHz are filtered out instead of folding back
    as aliases (which no causal model could, or should, learn)."""

    def __init__(self, plugins) -> None:
        import pedalboard

        self._board = pedalboard.Pedalboard(list(plugins))

    def __call__(self, audio: np.ndarray, rate: int) -> np.ndarray:
        import soxr

        high = rate * OVERSAMPLING
        up = soxr.resample(audio.astype(np.float32), rate, high, quality="VHQ")
        processed = self._board(up[None, :], high)[0]
        return soxr.resample(processed, high, rate, quality="VHQ")[: len(audio)].astype(np.float32)


def _board(*plugins) -> _Board:
    return _Board(plugins)


def tube_drive(audio: np.ndarray, drive: float) -> np.ndarray:
    import pedalboard as pb

    drive_db = 4.0 + 20.0 * drive
    board = _board(
        pb.HighpassFilter(90.0), pb.Gain(-3.0), pb.Distortion(drive_db), pb.LowpassFilter(6500.0), pb.Gain(-drive_db / 3)
    )
    return board(audio, RATE)


def fuzz(audio: np.ndarray, _: float | None = None) -> np.ndarray:
    import pedalboard as pb

    return _board(pb.HighpassFilter(160.0), pb.Distortion(26.0), pb.LowpassFilter(2800.0), pb.Gain(-9.0))(audio, RATE)


def vintage_radio(audio: np.ndarray, tone: float) -> np.ndarray:
    import pedalboard as pb

    cutoff = 2000.0 + 3000.0 * tone
    board = _board(
        pb.HighpassFilter(350.0), pb.PeakFilter(1400.0, 6.0, 0.9), pb.Distortion(8.0), pb.LowpassFilter(cutoff), pb.Gain(-2.0)
    )
    return board(audio, RATE)


def telephone(audio: np.ndarray, _: float | None = None) -> np.ndarray:
    import pedalboard as pb

    board = _board(
        pb.HighpassFilter(400.0), pb.HighpassFilter(400.0), pb.LowpassFilter(3300.0), pb.LowpassFilter(3300.0),
        pb.Distortion(4.0), pb.Gain(3.0),
    )
    return board(audio, RATE)


def lofi_tape(audio: np.ndarray, _: float | None = None) -> np.ndarray:
    import pedalboard as pb

    board = _board(
        pb.LowShelfFilter(150.0, 5.0), pb.Distortion(9.0), pb.HighShelfFilter(3500.0, -9.0), pb.LowpassFilter(9000.0),
        pb.Gain(-3.0),
    )
    return board(audio, RATE)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    category: str
    chain: Callable[[np.ndarray, float | None], np.ndarray]
    chain_text: str
    arch: str = "conv-8"
    steps: int = 1200
    knob: dict | None = None  # {"name", "min", "max", "default", "unit"}
    train_knobs: tuple[float, ...] = ()
    eval_knobs: tuple[float, ...] = ()


RECIPES = {
    r.name: r
    for r in (
        Recipe(
            "tube-drive", "Warm overdrive; the drive knob goes from edge-of-breakup to saturated.", "drive", tube_drive,
            "HPF 90 Hz > -3 dB > tanh drive 4..24 dB > LPF 6.5 kHz > level trim", "conv-12", 2000,
            {"name": "drive", "min": 0.0, "max": 1.0, "default": 0.5, "unit": ""}, (0.0, 0.25, 0.5, 0.75, 1.0), (0.1, 0.6, 0.9),
        ),
        Recipe(
            "fuzz", "Thick, compressed fuzz with a dark top end.", "drive", fuzz,
            "HPF 160 Hz > tanh drive 26 dB > LPF 2.8 kHz > -9 dB", "conv-12", 2000,
        ),
        Recipe(
            "vintage-radio", "Small-speaker AM radio: boxy mids, no lows; the tone knob opens the top.", "character",
            vintage_radio, "HPF 350 Hz > peak +6 dB at 1.4 kHz > tanh drive 8 dB > LPF 2..5 kHz > -2 dB", "conv-12", 2000,
            {"name": "tone", "min": 0.0, "max": 1.0, "default": 0.5, "unit": ""}, (0.0, 0.25, 0.5, 0.75, 1.0), (0.15, 0.55, 0.85),
        ),
        Recipe(
            "telephone", "A narrow telephone line, 400 Hz to 3.3 kHz with a little grit.", "filter", telephone,
            "2x HPF 400 Hz > 2x LPF 3.3 kHz > tanh drive 4 dB > +3 dB", "conv-12", 1500,
        ),
        Recipe(
            "lofi-tape", "Dark, warm tape: fat lows, soft saturation, rolled-off highs.", "character", lofi_tape,
            "low shelf +5 dB at 150 Hz > tanh drive 9 dB > high shelf -9 dB at 3.5 kHz > LPF 9 kHz > -3 dB", "conv-12", 1500,
        ),
    )
}


def _examples(recipe: Recipe, dry: np.ndarray, knobs: tuple[float, ...]) -> list[Example]:
    if recipe.knob is None:
        return [Example(dry, recipe.chain(dry, None).astype(np.float32))]
    return [Example(dry, recipe.chain(dry, k).astype(np.float32), (k,)) for k in knobs]


def interleaved_split(examples: list[Example], period_s: float = 5.0, held_out_s: float = 0.75):
    """Validation takes the last 0.75 s of every 5 s (15%), so it covers every kind of
    material (instruments, speech, test signals) that training sees."""
    period, keep = int(period_s * RATE), int((period_s - held_out_s) * RATE)
    fit, val = [], []
    for e in examples:
        for start in range(0, len(e.dry), period):
            fit.append(Example(e.dry[start : start + keep], e.wet[start : start + keep], e.params))
            if start + keep < len(e.dry):
                val.append(Example(e.dry[start + keep : start + period], e.wet[start + keep : start + period], e.params))
    return fit, val


def make_style(
    name: str, steps: int | None = None, progress: Progress | None = None, data_dir: Path = DATA_DIR,
    evaluate_only: bool = False,
) -> dict:
    """Re-create a shipped style from scratch; returns its report (also written as JSON).
    ``evaluate_only`` re-measures and re-exports the committed checkpoint without training."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe '{name}' (recipes: {', '.join(RECIPES)})")
    recipe = RECIPES[name]
    eval_set = _examples(recipe, material.build("eval", data_dir), recipe.eval_knobs)
    stress_set = _examples(recipe, material.build("eval", data_dir, test_signals_only=True), recipe.eval_knobs)
    paths = output_paths(CHECKPOINTS_DIR, recipe.name, style_dir=STYLES_DIR)
    if evaluate_only:
        model, saved = load_checkpoint(paths["pt"])
        history = None
        steps, seconds = saved["provenance"]["training_steps"], saved["provenance"]["training_seconds"]
    else:
        fit, val = interleaved_split(_examples(recipe, material.build("train", data_dir), recipe.train_knobs))
        config = TrainConfig(steps=steps or recipe.steps, segment=4096, warmup=2048, batch=16, validate_every=200)
        model = build(recipe.arch, 1 if recipe.knob else 0)
        history = train(model, fit, val, config, progress)
        steps, seconds = config.steps, history.seconds
    eval_esr = evaluate_esr(model, eval_set)
    stress_esr = evaluate_esr(model, stress_set)
    manifest = {
        "schema": 1,
        "name": recipe.name,
        "description": recipe.description,
        "category": recipe.category,
        "sample_rate": RATE,
        "channels": 1,
        "block_multiple": 1,
        "latency_samples": 0,
        "params": [recipe.knob] if recipe.knob else [],
        "provenance": {
            "source": f"capture of a pedalboard reference chain (run at {OVERSAMPLING}x oversampling): {recipe.chain_text}",
            "architecture": recipe.arch,
            "weights": sum(p.numel() for p in model.parameters()),
            "training_data": "models/material.py 'train' split (fluidsynth GM instruments, espeak-ng speech, test signals)"
            + (f" at knob values {list(recipe.train_knobs)}" if recipe.knob else ""),
            "eval_data": "models/material.py 'eval' split (other instruments, sentences and melodies)"
            + (f" at knob values {list(recipe.eval_knobs)}" if recipe.knob else ""),
            "esr": round(eval_esr, 5),
            "esr_test_signals": round(stress_esr, 5),
            "esr_test_signals_note": "eval-seed sweep, noise bursts, chord and transients: a stress test",
            "training_steps": steps,
            "training_seconds": round(seconds, 1),
            "date": datetime.date.today().isoformat(),
            "recipe": f"stylerack train recipe {recipe.name}",
        },
    }
    CHECKPOINTS_DIR.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, manifest, paths["pt"])  # first: an export failure keeps the training
    if history:
        plot_history(history, paths["loss.png"], f"{recipe.name} ({recipe.arch})")
    export = export_style(model, manifest, paths["onnx"])
    best_val = history.best_val_esr if history else json.loads(paths["report.json"].read_text())["best_val_esr"]
    report = {
        "name": recipe.name,
        "eval_esr": eval_esr,
        "test_signals_esr": stress_esr,
        "best_val_esr": best_val,
        "steps": steps,
        "training_seconds": seconds,
        **export.numbers(),
    }
    paths["report.json"].write_text(json.dumps(report, indent=2) + "\n")
    return report
