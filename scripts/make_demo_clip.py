"""Make the built-in demo clip (realtime/live/demo.flac): a guitar phrase, a piano phrase and
a spoken sentence, rendered here with fluidsynth and espeak-ng (scripts/setup.sh --material).

    .venv/bin/python scripts/make_demo_clip.py [--overwrite]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from models import material  # noqa: E402

OUT = ROOT / "realtime" / "live" / "demo.flac"


def main() -> int:
    if OUT.exists() and "--overwrite" not in sys.argv:
        print(f"{OUT} exists (use --overwrite)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        parts = [
            material.render_instrument(27, seed=77, seconds=3.0, work=work),  # clean electric guitar
            material.render_instrument(0, seed=78, seconds=2.5, work=work),  # piano
            material.speak("en", "StyleRack plays your sound through a neural style, live.", work, 0),
        ]
    gap = np.zeros(material.RATE // 5, np.float32)
    clip = np.concatenate([np.concatenate([p / np.abs(p).max() * 0.5, gap]) for p in parts]).astype(np.float32)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(OUT), clip, material.RATE, subtype="PCM_16")
    print(f"wrote {OUT} ({len(clip) / material.RATE:.1f} s, {OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
