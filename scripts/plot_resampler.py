"""docs/resampler.png: the low-latency resampler next to soxr HQ and LQ, measured with sines.

    .venv/bin/python scripts/plot_resampler.py [--out docs/resampler.png]

Left: gain of 48 -> 44.1 kHz for tones up to 24 kHz: the passband up to 22.05 kHz (the
output's Nyquist), then, above it, the level of what folds back (aliasing). Right: the
passband's top octave magnified, with the +-0.1 dB band. Needs matplotlib (the train extra).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from realtime.offline import resample_quality as rq  # noqa: E402

KINDS = {"low-latency": "tab:blue", "soxr-hq": "tab:green", "soxr-lq": "tab:orange"}


def response(kind: str) -> tuple[np.ndarray, np.ndarray]:
    freqs = np.concatenate([np.linspace(200, 22000, 110), np.linspace(22100, 23900, 19)])
    levels = [rq.gain_db(kind, 48000, 44100, f) if f < 22050 else rq.alias_db(kind, 48000, 44100, f) for f in freqs]
    return freqs, np.array(levels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/resampler.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (whole, top) = plt.subplots(1, 2, figsize=(10, 3.6))
    for kind, color in KINDS.items():
        freqs, levels = response(kind)
        q = rq.measure(kind)
        label = (f"{kind}: ripple {q.passband_ripple_db:.3f} dB, alias {q.aliasing_db:.0f} dB, "
                 f"THD+N {q.round_trip_thdn_db:.0f} dB")
        whole.plot(freqs / 1000, levels, color=color, label=label)
        band = freqs <= 22000
        top.plot(freqs[band] / 1000, levels[band], color=color)
    whole.axvline(22.05, color="grey", lw=0.8, ls=":")
    whole.axhline(-90, color="red", lw=0.8, ls="--")
    whole.set(xlabel="input tone (kHz), 48 -> 44.1 kHz", ylabel="level (dB)", ylim=(-160, 5),
              title="gain, then aliasing above 22.05 kHz")
    top.axhspan(-0.1, 0.1, color="grey", alpha=0.2)
    top.axvline(18, color="grey", lw=0.8, ls=":")
    top.set(xlabel="input tone (kHz)", ylim=(-1.0, 0.3), xlim=(12, 22.05), title="top of the passband (+-0.1 dB band)")
    whole.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
