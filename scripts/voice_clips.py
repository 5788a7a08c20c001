"""Before/after clips and spectrograms of the voice styles, for docs/ (and for listening).

    .venv/bin/python scripts/voice_clips.py [--out docs/voice]

Speaks two sentences with flite's rms (male) and slt (female) voices, which are made from
recordings of real speakers, renders them through 'feminine' (rms) and 'masculine' (slt) with
the styles' default knobs, and writes each pair as small OGG files and one PNG of spectrograms
(dry above, styled below). Needs flite (scripts/setup.sh --dev) and matplotlib (train extra).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from realtime.engine.runner import StyleRunner  # noqa: E402
from realtime.format.catalog import shipped_styles_dir  # noqa: E402
from realtime.format.style import load_style  # noqa: E402
from realtime.offline.validate import run_aligned  # noqa: E402

RATE = 48000
TEXT = "The birch canoe slid on the smooth planks. She sells sea shells by the sea shore."
PAIRS = (("rms", "feminine"), ("slt", "masculine"))


def speak(voice: str, folder: Path) -> np.ndarray:
    wav = folder / f"{voice}.wav"
    subprocess.run(["flite", "-voice", voice, "-t", TEXT, "-o", str(wav)], check=True)
    audio, rate = sf.read(wav, dtype="float64")
    g = np.gcd(RATE, rate)
    return resample_poly(audio, RATE // g, rate // g).astype(np.float32)


def style_render(name: str, audio: np.ndarray) -> np.ndarray:
    style = load_style(shipped_styles_dir() / f"{name}.onnx")
    return run_aligned(StyleRunner(style, max_frames=128), audio, 128)


def plot(pairs: list[tuple[str, np.ndarray, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(pairs), figsize=(7 * len(pairs), 6), squeeze=False)
    for column, (title, dry, wet) in enumerate(pairs):
        for row, (label, audio) in enumerate((("dry", dry), (title, wet))):
            ax = axes[row, column]
            ax.specgram(audio, NFFT=1024, Fs=RATE, noverlap=768, cmap="magma", vmin=-130)
            ax.set_ylim(0, 8000)
            ax.set_title(label)
            ax.set_ylabel("Hz")
    fig.tight_layout()
    fig.savefig(path, dpi=45)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "voice")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shown = []
    with tempfile.TemporaryDirectory() as folder:
        for voice, style in PAIRS:
            dry = speak(voice, Path(folder))
            wet = style_render(style, dry)
            sf.write(args.out / f"{voice}-dry.ogg", dry, RATE, format="OGG", subtype="VORBIS")
            sf.write(args.out / f"{voice}-{style}.ogg", wet, RATE, format="OGG", subtype="VORBIS")
            shown.append((f"{voice} through {style}", dry, wet))
    plot(shown, args.out / "spectrograms.png")
    print(f"wrote {len(PAIRS) * 2} clips and spectrograms.png in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
