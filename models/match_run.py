"""``stylerack train match`` and ``stylerack match``: files in, a matched style (and a render) out.

``train_match`` writes NAME.onnx (verified by ``models.export``: PyTorch vs ONNX Runtime,
streaming vs one call, ``validate``), NAME.json (the fit, and how far the source's spectrum
and loudness were from the reference's before and after) and NAME.png (the long-term spectra
before and after, and the fitted EQ curve). ``match_file`` fits on SRC and renders SRC through
the style with the engine (``render``), at ``--amount``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import signal as sps

from models.match import (
    MIN_REFERENCE_SECONDS, RATE, fit_match, loudness_lufs, manifest_for, level_db, read_mono, smooth_fractional_octave,
    spectrum_db, style_from_fit,
)
from models.outputs import style_outputs

MATCH_FILES = ("onnx", "json", "png")  # what train_match writes: the style, the fit, the spectra plot

THIRD_OCTAVES_HZ = tuple(1000 * 2 ** (k / 3) for k in range(-10, 11))  # 100 Hz .. 10 kHz


def band_levels_db(x: np.ndarray, centres=THIRD_OCTAVES_HZ) -> np.ndarray:
    """Long-term level in third-octave bands (power within each band, in dB)."""
    freqs, db = spectrum_db(x)
    power = 10 ** (db / 10)
    return np.array([10 * np.log10(power[(freqs >= c * 2 ** (-1 / 6)) & (freqs < c * 2 ** (1 / 6))].sum() + 1e-20)
                     for c in centres])


def distance(a: np.ndarray, b: np.ndarray) -> dict:
    """How far a is from b: third-octave bands (after removing the mean offset), RMS level (what
    the fit matches) and loudness."""
    bands = band_levels_db(a) - band_levels_db(b)
    return {
        "band_error_db_max": float(np.abs(bands - bands.mean()).max()),
        "band_error_db_mean": float(np.abs(bands - bands.mean()).mean()),
        "level_error_db": level_db(a) - level_db(b),
        "loudness_error_lu": float(loudness_lufs(a) - loudness_lufs(b)),
    }


def train_match(references: Sequence[str], source: str | None, name: str, out_dir: Path, overwrite: bool = False,
                progress=None) -> dict:
    from models.export import export_style

    paths = style_outputs(Path(out_dir), name, MATCH_FILES, overwrite)
    started = time.perf_counter()
    refs = [read_mono(r, "reference", MIN_REFERENCE_SECONDS) for r in references]
    src = read_mono(source, "source") if source else None
    fit = fit_match(refs, src, progress)
    fit_seconds = time.perf_counter() - started
    manifest = manifest_for(name, fit, references, source)
    exported = export_style(style_from_fit(fit), manifest, paths["onnx"], overwrite=True)
    reference = np.concatenate(refs)
    report = {
        "style": str(paths["onnx"]),
        "fit": fit.summary(),
        "fit_seconds": round(fit_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        **exported.numbers(),
    }
    if src is not None:
        matched = fit.apply(src)
        report["before"] = distance(src, reference)
        report["after"] = distance(matched, reference)
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    _plot(paths["png"], fit, reference, src)
    return report


def _plot(path: Path, fit, reference: np.ndarray, source: np.ndarray | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (spectra, curve) = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, audio, color in (("reference", reference, "black"), ("source", source, "tab:orange"),
                                ("source matched", fit.apply(source) if source is not None else None, "tab:blue")):
        if audio is None:
            continue
        freqs, db = spectrum_db(audio)
        keep = (freqs >= 20) & (freqs <= 20000)
        spectra.semilogx(freqs[keep], smooth_fractional_octave(freqs, db)[keep], color=color, label=label)
    spectra.set(xlabel="Hz", ylabel="dB", title="long-term spectrum (1/6 octave)")
    spectra.legend(fontsize=8)
    keep = (fit.curve_freqs >= 20) & (fit.curve_freqs <= 20000)
    w, h = sps.freqz(fit.fir, worN=4096, fs=RATE)
    curve.semilogx(fit.curve_freqs[keep], fit.curve_db[keep], color="grey", label="target curve")
    curve.semilogx(w[1:], 20 * np.log10(np.abs(h[1:]) + 1e-12), color="tab:blue", label="fitted EQ (minimum phase)")
    curve.set(xlabel="Hz", ylabel="dB", title="EQ", xlim=(20, 20000))
    curve.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def match_file(source: str, reference: str, out: str, amount: float = 1.0, overwrite: bool = False,
               progress=None) -> dict:
    """Fit on SRC toward REF and render SRC through the style into OUT (the engine's render)."""
    from realtime.format.rack import RackSpec, SlotSpec
    from realtime.offline.render import check_output_path, render_file

    check_output_path(Path(source), Path(out), overwrite)  # before any work
    with tempfile.TemporaryDirectory() as folder:
        report = train_match([reference], source, "matched", Path(folder), progress=progress)
        rack = RackSpec([SlotSpec(str(Path(folder) / "matched.onnx"), {"amount": amount})])
        result = render_file(source, out, rack, overwrite=overwrite)
    report["render"] = {"out": str(result.out_path), "frames": result.frames, "sample_rate": result.sample_rate}
    report.pop("style", None)
    return report
