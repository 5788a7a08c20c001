"""Capture: a style from a dry/wet recording pair (how a user captures a pedal or an amp).

``check_pair`` refuses what cannot train well (different rates or lengths, silence,
clipping, a delay beyond the limit) with a reason, and measures and removes the delay
between the two files by cross-correlation. ``capture`` trains on the first 80% and
reports the ESR on the held-out last 20%.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from models.outputs import TRAINED_FILES, style_outputs
from realtime.errors import AudioFileError, StyleRackError

MAX_DELAY_SECONDS = 0.25
SILENT_RMS = 1e-4  # -80 dBFS
CLIP_LEVEL = 0.999
CLIP_FRACTION = 1e-3
VALIDATION_SHARE = 0.2


class CaptureError(StyleRackError):
    """A recording pair cannot be used for capture (the message says why)."""


@dataclass(frozen=True)
class Pair:
    dry: np.ndarray
    wet: np.ndarray
    sample_rate: int
    delay_samples: int  # how much later the wet file is than the dry (removed)


def _read(path: Path) -> tuple[np.ndarray, int]:
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: cannot read audio ({exc})") from None
    return audio.mean(axis=1), rate


def _check_level(path: Path, audio: np.ndarray) -> None:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0
    if rms < SILENT_RMS:
        raise CaptureError(f"{path}: is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS)")
    clipped = int(np.count_nonzero(np.abs(audio) >= CLIP_LEVEL))
    if clipped > CLIP_FRACTION * len(audio):
        raise CaptureError(f"{path}: is clipped ({clipped} samples at full scale); record it again with less gain")


def find_delay(dry: np.ndarray, wet: np.ndarray) -> int:
    """Lag (samples) by which ``wet`` follows ``dry``, from the cross-correlation peak over all
    lags (the caller refuses one that is too large)."""
    size = 1 << int(np.ceil(np.log2(len(dry) + len(wet))))
    spectrum = np.fft.rfft(wet, size) * np.conj(np.fft.rfft(dry, size))
    correlation = np.fft.irfft(spectrum, size)
    lag = int(np.argmax(np.abs(correlation)))
    return lag if lag < size // 2 else lag - size


def check_pair(dry_path: Path, wet_path: Path) -> Pair:
    dry, dry_rate = _read(Path(dry_path))
    wet, wet_rate = _read(Path(wet_path))
    if dry_rate != wet_rate:
        raise CaptureError(f"{wet_path}: sample rate {wet_rate} Hz differs from {dry_path} ({dry_rate} Hz)")
    if len(dry) != len(wet):
        raise CaptureError(
            f"{wet_path}: {len(wet)} frames but {dry_path} has {len(dry)}; the pair must be the same length"
        )
    _check_level(Path(dry_path), dry)
    _check_level(Path(wet_path), wet)
    max_lag = int(MAX_DELAY_SECONDS * dry_rate)
    lag = find_delay(dry, wet)
    if abs(lag) > max_lag:
        raise CaptureError(
            f"{wet_path}: is {lag / dry_rate * 1000:+.0f} ms out of step with {dry_path} "
            f"(more than {MAX_DELAY_SECONDS * 1000:.0f} ms); are these the same take?"
        )
    if lag > 0:
        dry, wet = dry[: len(dry) - lag], wet[lag:]
    elif lag < 0:
        dry, wet = dry[-lag:], wet[: len(wet) + lag]
    return Pair(dry.astype(np.float32), wet.astype(np.float32), dry_rate, lag)


def split(pair: Pair) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train dry, train wet), (validation dry, validation wet): the last 20% is held out."""
    cut = int(len(pair.dry) * (1 - VALIDATION_SHARE))
    return (pair.dry[:cut], pair.wet[:cut]), (pair.dry[cut:], pair.wet[cut:])


def run_capture(
    dry_path: Path, wet_path: Path, name: str, arch: str, steps: int, out_dir: Path, overwrite: bool = False,
    progress=None,
) -> dict:
    """Check the pair, train, export NAME.onnx (verified), and write NAME.pt and the report."""
    import datetime
    import json

    from models.arch import ARCHITECTURES, build
    from models.export import export_style, save_checkpoint
    from models.train import Example, TrainConfig, plot_history, train

    if arch not in ARCHITECTURES:
        raise CaptureError(f"unknown architecture '{arch}' (choose from: {', '.join(ARCHITECTURES)})")
    if steps < 1:
        raise CaptureError(f"--steps must be at least 1, got {steps}")
    out_dir = Path(out_dir)
    paths = style_outputs(out_dir, name, TRAINED_FILES, overwrite, CaptureError)
    pair = check_pair(Path(dry_path), Path(wet_path))
    (fit_dry, fit_wet), (val_dry, val_wet) = split(pair)
    model = build(arch)
    config = TrainConfig(steps=steps, segment=4096, warmup=2048, validate_every=max(1, min(100, steps // 5)))
    fit, val = [Example(fit_dry, fit_wet)], [Example(val_dry, val_wet)]
    history = train(model, fit, val, config, progress)
    manifest = {
        "schema": 1, "name": name, "description": f"captured from {Path(wet_path).name}", "category": "capture",
        "sample_rate": pair.sample_rate, "channels": 1, "block_multiple": 1, "latency_samples": 0, "params": [],
        "provenance": {
            "source": f"capture of {Path(dry_path).name} -> {Path(wet_path).name}",
            "architecture": arch,
            "training_data": f"first {100 * (1 - VALIDATION_SHARE):.0f}% of the pair",
            "esr": round(history.best_val_esr, 5),
            "esr_measured_on": f"last {100 * VALIDATION_SHARE:.0f}% of the pair (held out)",
            "delay_removed_samples": pair.delay_samples,
            "training_steps": steps,
            "date": datetime.date.today().isoformat(),
        },
    }
    export = export_style(model, manifest, paths["onnx"])
    save_checkpoint(model, manifest, paths["pt"])
    plot_history(history, paths["loss.png"], f"{name} ({arch})")
    report = {
        "style": str(paths["onnx"]), "validation_esr": history.best_val_esr, "delay_samples": pair.delay_samples,
        "steps": steps, "training_seconds": history.seconds, "size_bytes": export.size_bytes,
        "torch_vs_onnx_max_abs": export.torch_vs_onnx_max_abs, "real_time_factor": export.real_time_factor,
        "loss": history.loss[:: max(1, len(history.loss) // 200)], "val_steps": history.val_steps, "val_esr": history.val_esr,
    }
    paths["report.json"].write_text(json.dumps(report, indent=2) + "\n")
    return report
