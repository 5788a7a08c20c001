"""Before/after clips and spectrograms of the speech-denoise style, for docs/ (and for listening).

    .venv/bin/python scripts/denoise_clips.py [--out docs/denoise] [--items 1 4 8]

Takes held-out items of bench/denoise.py (models/denoise_material.py's test split: speakers and
noise recordings never trained on), renders each through speech-denoise at strength 1 and 0.5,
and writes the noisy input, both outputs and the clean speech as small OGG files, plus one PNG
of spectrograms (noisy, strength 1, strength 0.5, clean: one column per item).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.denoise_material import RATE, TestMaterial, make_item  # noqa: E402
from realtime.engine.runner import StyleRunner  # noqa: E402
from realtime.format.catalog import shipped_styles_dir  # noqa: E402
from realtime.format.style import load_style  # noqa: E402
from realtime.offline.validate import run_aligned  # noqa: E402

SNRS_DB = (0.0, 5.0, 10.0, 20.0)


def denoise(audio: np.ndarray, strength: float) -> np.ndarray:
    style = load_style(shipped_styles_dir() / "speech-denoise.onnx")
    runner = StyleRunner(style, max_frames=480)
    runner.set_params([strength])
    return run_aligned(runner, audio.astype(np.float32), 480)


def plot(columns: list[tuple[str, list[tuple[str, np.ndarray]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(columns[0][1])
    fig, axes = plt.subplots(rows, len(columns), figsize=(6 * len(columns), 2.4 * rows), squeeze=False)
    for column, (title, panels) in enumerate(columns):
        for row, (label, audio) in enumerate(panels):
            ax = axes[row, column]
            ax.specgram(audio, NFFT=1024, Fs=RATE, noverlap=768, cmap="magma", vmin=-140)
            ax.set_ylim(0, 12000)
            ax.set_title(f"{title}: {label}" if row == 0 else label, fontsize=9)
            ax.set_ylabel("Hz")
    fig.tight_layout()
    fig.savefig(path, dpi=45)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "denoise")
    parser.add_argument("--items", type=int, nargs="+", default=[1, 4, 8], help="bench/denoise.py item numbers")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    material = TestMaterial.load()
    columns = []
    for index in args.items:
        item = make_item(material, index, SNRS_DB)
        full, half = denoise(item.noisy, 1.0), denoise(item.noisy, 0.5)
        stem = f"item{index:02d}"
        for suffix, audio in (("noisy", item.noisy), ("denoised", full), ("strength-0.5", half), ("clean", item.clean)):
            sf.write(args.out / f"{stem}-{suffix}.ogg", audio, RATE, format="OGG", subtype="VORBIS")
        title = f"{item.speaker} in {item.noise} at {item.snr_db:g} dB"
        columns.append((title, [("noisy", item.noisy), ("speech-denoise", full), ("strength 0.5", half),
                                ("clean", item.clean)]))
    plot(columns, args.out / "spectrograms.png")
    print(f"wrote {4 * len(args.items)} clips and spectrograms.png in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
