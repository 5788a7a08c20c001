"""Matching a reference, side by side: the DeepAFx-ST protocol on held-out real recordings.

    .venv/bin/python bench/match.py [--items 100] [--json FILE] [--markdown]

Material (nothing downloaded; Debian's ``fillets-ng-data``, which ``scripts/setup.sh --material``
installs): the game's music tracks (real, produced music) and its recorded dialogue (real
actors; lines of one language joined). Each item is an 11 s clip at 48 kHz, peak-normalised to
-12 dBFS and split in halves A and B:

- input  = a random input chain (3-band EQ, sometimes an expander) on A;
- target = a random target chain on A (EQ and compressor; in the "drive and reverb" half of
  the items also distortion and reverb), all from pedalboard;
- reference = the same target chain on B (other content, same processing).

Each system gets the input and the reference and is scored against the target (same content):
the untreated input, the input at the reference's loudness ("reference level"), the reference
itself (another half's content: what content alone puts between the reference and the target),
Matchering 2.0 (with its limiter; GPL, benchmark extra only) and StyleRack's match
(``models.match``: fitted on the input and the reference, run through the style's own PyTorch graph, whose ONNX export is checked to 1e-4 by the tests). Metrics as in
DeepAFx-ST's ``metrics.py``: MR-STFT (auraloss, FFT 32..32768 in steps of 4, hop FFT/2, linear
and log magnitude), spectral-centroid error (Hz), RMS and crest-factor errors (dB) and
integrated-loudness error (LU, pyloudnorm). DeepAFx-ST's published numbers are at 24 kHz on
Jamendo, so they are a reference point, not a row measured here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE = 48000
HALF_SECONDS = 5.5
FILLETS = Path("/usr/share/games/fillets-ng")
METRICS = ("mrstft", "centroid_hz", "rms_db", "crest_db", "loudness_lu")
METRIC_NAMES = {"mrstft": "MR-STFT", "centroid_hz": "centroid", "rms_db": "RMS", "crest_db": "crest factor", "loudness_lu": "loudness"}
#: "reference level": the input only brought to the reference's loudness; its loudness error is
#: how far the target's loudness is from the reference's (other content), which no system that
#: matches the reference's loudness can go below. "reference itself": the reference scored as if
#: it were the output: what the other half's content alone puts between a perfect copy of the
#: reference's processing and the target (its centroid, RMS, crest factor and loudness errors;
#: its MR-STFT compares different audio)
SYSTEMS = ("untreated", "reference level", "reference itself", "matchering", "stylerack")


def read(path: Path) -> np.ndarray:
    """Mono float64 at 48 kHz (soxr HQ)."""
    import soxr

    audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    mono = audio.mean(axis=1)
    return soxr.resample(mono, rate, RATE) if rate != RATE else mono


def clips(count: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Half music segments, half dialogue, each 2 * HALF_SECONDS long and not silent."""
    if not FILLETS.is_dir():
        raise SystemExit(f"{FILLETS}: not installed (apt-get install fillets-ng-data, or scripts/setup.sh --material)")
    length = int(2 * HALF_SECONDS * RATE)
    music = [read(p) for p in sorted((FILLETS / "music").glob("*.ogg"))]
    music = [m for m in music if len(m) > length]
    speech = []
    for folder in sorted((FILLETS / "sound").glob("*/*")):
        lines = [read(p) for p in sorted(folder.glob("*.ogg"))]
        if lines:
            gap = np.zeros(int(0.15 * RATE))
            speech.append(np.concatenate([x for line in lines for x in (line, gap)]))
    speech = [s for s in speech if len(s) > length]
    out = []
    while len(out) < count:
        kind = "music" if len(out) % 2 == 0 else "speech"
        pool = music if kind == "music" else speech
        source = pool[rng.integers(len(pool))]
        start = int(rng.integers(0, len(source) - length))
        clip = source[start : start + length]
        halves = clip[: length // 2], clip[length // 2 :]
        if min(np.sqrt(np.mean(h**2)) for h in halves) < 1e-3:
            continue
        out.append((kind, clip * (10 ** (-12 / 20) / np.abs(clip).max())))
    return out


def random_eq(rng, spread_db: float):
    import pedalboard as pb

    return [
        pb.LowShelfFilter(cutoff_frequency_hz=float(rng.uniform(80, 400)), gain_db=float(rng.uniform(-spread_db, spread_db))),
        pb.PeakFilter(cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(300), np.log(5000)))),
                      gain_db=float(rng.uniform(-spread_db, spread_db)), q=float(rng.uniform(0.5, 2.0))),
        pb.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(2500, 9000)), gain_db=float(rng.uniform(-spread_db, spread_db))),
    ]


def chains(rng, drive_and_reverb: bool):
    import pedalboard as pb

    input_chain = random_eq(rng, 6.0)
    if rng.uniform() < 0.3:
        input_chain.append(pb.NoiseGate(threshold_db=float(rng.uniform(-40, -28)), ratio=2.0))
    target_chain = random_eq(rng, 9.0) + [
        pb.Compressor(threshold_db=float(rng.uniform(-30, -12)), ratio=float(rng.uniform(2, 8)),
                      attack_ms=float(rng.uniform(1, 20)), release_ms=float(rng.uniform(50, 300))),
        pb.Gain(gain_db=float(rng.uniform(-3, 6))),
    ]
    if drive_and_reverb:
        target_chain.insert(3, pb.Distortion(drive_db=float(rng.uniform(4, 14))))
        target_chain.append(pb.Reverb(room_size=float(rng.uniform(0.1, 0.4)), wet_level=float(rng.uniform(0.08, 0.2)),
                                      dry_level=0.9))
    return pb.Pedalboard(input_chain), pb.Pedalboard(target_chain)


def run_chain(board, x: np.ndarray) -> np.ndarray:
    board.reset()
    return board(x.astype(np.float32)[None, :], RATE)[0].astype(np.float64)


# ---- metrics (as DeepAFx-ST's metrics.py defines them) ----------------------------------------

_MRSTFT = None


def mrstft(a: np.ndarray, b: np.ndarray) -> float:
    global _MRSTFT
    import auraloss
    import torch

    if _MRSTFT is None:
        sizes = [32, 128, 512, 2048, 8192, 32768]
        _MRSTFT = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=sizes, hop_sizes=[s // 2 for s in sizes],
                                                        win_lengths=sizes, w_sc=0.0, w_log_mag=1.0, w_lin_mag=1.0)
    with torch.no_grad():
        return float(_MRSTFT(torch.from_numpy(a[None, None].astype(np.float32)),
                             torch.from_numpy(b[None, None].astype(np.float32))))


CENTROID_FFT, CENTROID_HOP = 2048, 512


def centroid_hz(x: np.ndarray) -> float:
    """The mean over STFT frames of each frame's spectral centroid, as DeepAFx-ST's
    ``SpectralCentroidError`` takes it (torchaudio's ``SpectralCentroid``: 2048-point frames 512
    apart, centred with reflected padding, periodic Hann window, magnitude spectrum; on
    x + 1e-16, so a silent frame has a centroid near 0 Hz instead of none). Every frame counts
    the same, however quiet: a quiet passage's noise or a reverb's tail moves it as much as a
    loud one. (Earlier versions took the centroid of the whole clip's spectrum, which weighs
    frames by their level.)"""
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.pad(np.asarray(x, np.float64) + 1e-16, CENTROID_FFT // 2, mode="reflect")
    frames = sliding_window_view(padded, CENTROID_FFT)[::CENTROID_HOP]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(CENTROID_FFT) / CENTROID_FFT)
    magnitude = np.abs(np.fft.rfft(frames * window, axis=1))
    freqs = np.linspace(0.0, RATE // 2, CENTROID_FFT // 2 + 1)
    return float(np.mean((magnitude * freqs).sum(axis=1) / magnitude.sum(axis=1)))


def rms_db(x: np.ndarray) -> float:
    return 20 * math.log10(max(math.sqrt(np.mean(x**2)), 1e-8))


def crest_db(x: np.ndarray) -> float:
    return 20 * math.log10(np.abs(x).max() / max(math.sqrt(np.mean(x**2)), 1e-8))


def scores(estimate: np.ndarray, target: np.ndarray) -> dict:
    from models.match import loudness_lufs

    n = min(len(estimate), len(target))
    e, t = estimate[:n], target[:n]
    return {
        "mrstft": mrstft(e, t),
        "centroid_hz": abs(centroid_hz(e) - centroid_hz(t)),
        "rms_db": abs(rms_db(e) - rms_db(t)),
        "crest_db": abs(crest_db(e) - crest_db(t)),
        "loudness_lu": abs(loudness_lufs(e) - loudness_lufs(t)),
    }


# ---- systems ----------------------------------------------------------------------------------

def stylerack_match(x: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    import torch

    from models.match import KNOBS, fit_match, style_from_fit

    started = time.perf_counter()
    fit = fit_match([reference], x)
    seconds = time.perf_counter() - started
    style = style_from_fit(fit)
    with torch.no_grad():
        out = style(torch.from_numpy(x.astype(np.float32))[None, None], torch.ones(1, len(KNOBS)))[0, 0].double().numpy()
    return out, seconds


def matchering_match(x: np.ndarray, reference: np.ndarray, work: Path) -> np.ndarray:
    import matchering as mg

    target_path, reference_path, out_path = work / "t.wav", work / "r.wav", work / "o.wav"
    sf.write(target_path, np.stack([x, x], axis=1), RATE, subtype="FLOAT")
    sf.write(reference_path, np.stack([reference, reference], axis=1), RATE, subtype="FLOAT")
    mg.log(warning_handler=lambda *_: None, info_handler=lambda *_: None, debug_handler=lambda *_: None)
    mg.process(target=str(target_path), reference=str(reference_path), results=[mg.pcm24(str(out_path))])
    out, rate = sf.read(out_path, dtype="float64", always_2d=True)
    return out.mean(axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from models.match import loudness_lufs

    rng = np.random.default_rng(args.seed)
    items = clips(args.items, rng)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for index, (kind, clip) in enumerate(items):
            drive_and_reverb = index % 4 >= 2  # half the items of each kind
            input_chain, target_chain = chains(rng, drive_and_reverb)
            half = len(clip) // 2
            x = run_chain(input_chain, clip[:half])
            target = run_chain(target_chain, clip[:half])
            reference = run_chain(target_chain, clip[half:])
            ours, fit_seconds = stylerack_match(x, reference)
            level = 10 ** ((loudness_lufs(reference) - loudness_lufs(x)) / 20)
            row = {"item": index, "material": kind, "group": "drive+reverb" if drive_and_reverb else "eq+dynamics",
                   "fit_seconds": fit_seconds, "untreated": scores(x, target),
                   "reference level": scores(x * level, target), "reference itself": scores(reference, target),
                   "stylerack": scores(ours, target)}
            try:
                row["matchering"] = scores(matchering_match(x, reference, Path(folder)), target)
            except Exception as exc:  # Matchering refuses some material (too quiet, too short): counted
                row["matchering_error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            print(f"item {index + 1}/{len(items)} {kind} {row['group']}: MR-STFT untreated "
                  f"{row['untreated']['mrstft']:.3f}, StyleRack {row['stylerack']['mrstft']:.3f}"
                  + (f", Matchering {row['matchering']['mrstft']:.3f}" if "matchering" in row else ""), file=sys.stderr)
    summary = summarise(rows)
    print(table(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "items": rows}, indent=2) + "\n")
    return 0


def summarise(rows: list[dict]) -> dict:
    out = {}
    for group in ("eq+dynamics", "drive+reverb", "all"):
        chosen = [r for r in rows if group == "all" or r["group"] == group]
        if not chosen:
            continue
        entry = {"items": len(chosen)}
        for system in SYSTEMS:
            have = [r[system] for r in chosen if system in r]
            entry[system] = {m: float(np.mean([h[m] for h in have])) for m in METRICS} if have else None
        pairs = [r for r in chosen if "matchering" in r]
        # [item, metric]: StyleRack's error lower (RMS and loudness are near ties when both
        # systems take the reference's level)
        better = np.array([[r["stylerack"][m] < r["matchering"][m] for m in METRICS] for r in pairs], bool)
        entry["stylerack_beats_matchering_on_4_of_5"] = float(np.mean(better.sum(axis=1) >= 4)) if pairs else None
        entry["stylerack_beats_matchering_per_metric"] = (
            {m: float(share) for m, share in zip(METRICS, better.mean(axis=0))} if pairs else None)
        entry["matchering_failures"] = sum("matchering_error" in r for r in chosen)
        entry["fit_seconds_mean"] = float(np.mean([r["fit_seconds"] for r in chosen]))
        out[group] = entry
    return out


def table(summary: dict) -> str:
    lines = ["| items | system | MR-STFT | centroid error (Hz) | RMS error (dB) | crest-factor error (dB) | loudness error (LU) |",
             "|---|---|---|---|---|---|---|"]
    for group, entry in summary.items():
        for system in SYSTEMS:
            s = entry[system]
            if s is None:
                continue
            lines.append(f"| {group} ({entry['items']}) | {system} | {s['mrstft']:.3f} | {s['centroid_hz']:.0f} | "
                         f"{s['rms_db']:.2f} | {s['crest_db']:.2f} | {s['loudness_lu']:.2f} |")
    lines.append("")
    for group, entry in summary.items():
        share, per_metric = entry["stylerack_beats_matchering_on_4_of_5"], entry["stylerack_beats_matchering_per_metric"]
        if share is None:
            lines.append(f"{group}: no Matchering results")
            continue
        each = ", ".join(f"{METRIC_NAMES[m]} {100 * per_metric[m]:.0f}%" for m in METRICS)
        lines.append(f"{group}: StyleRack better than Matchering on at least 4 of the 5 metrics in "
                     f"{100 * share:.0f}% of items (better per metric: {each})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
