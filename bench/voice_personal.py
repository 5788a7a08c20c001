"""Personal voices (``stylerack train voice``) on held-out sentences: how far they move a voice
toward the target speaker, and what that costs in intelligibility.

    .venv/bin/python bench/voice_personal.py [--pairs kal:slt slt:kal awb:rms rms:slt] [--json FILE]

Material: flite's four voices (kal, awb, rms: male; slt: female; each made from one real
speaker's recordings), reading Harvard sentences. For each pair SOURCE:TARGET, a style is fitted
on the target reading sentences 9-20 (about 30 s) twice: with ``--source`` (the source voice
reading the same sentences 9-20: the performer's own recordings) and without. Held out: sentences
1-8. The source voice reads them one after another, as a performer would, through the style from
zero state (128-frame blocks, its declared latency removed), and each sentence is cut out of the
result.

Scores per held-out sentence, then the mean:

- mel-cepstral distortion (dB) to the target reading the same sentence, for the source itself
  (before) and the styled source (after), and the reduction (1 - after / before). Defined as PyPI
  ``pymcd``'s ``Calculate_MCD("dtw")`` defines it: both at 22.05 kHz and the same RMS, WORLD's
  spectral envelope (``wav2world``, 5 ms frames, FFT 512), SPTK's mel-cepstrum of order 13 at
  alpha 0.65 (``mcep``, ``maxiter=0, etype=1, eps=1e-8, itype=3``; here in numpy: the cepstrum of
  the log periodogram, warped by ``freqt``), frames paired by dynamic time warping on c1..c13,
  10 / ln 10 x sqrt(2) x the mean Euclidean distance over c0..c13 of the pairs. (pymcd itself is
  not used: it pulls in pyworld's sdist, which needs ``pkg_resources``; the numpy mel-cepstrum
  equals ``pysptk.sptk.mcep`` with those arguments, checked to 2e-15 when this was written, and
  the time warping here is exact where pymcd's ``fastdtw`` approximates.)
- word error rate (pocketsphinx, as ``bench/voice.py``), source and styled, pooled over the pairs;
- the mean f0 (Hz, WORLD's Harvest, voiced frames) of the source, the styled source and the target.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.voice import Recogniser, f0_hz, flite_sentence, import_pyworld, word_error_rate  # noqa: E402
from models.speech_sources import HARVARD_SENTENCES, resample  # noqa: E402
from realtime.engine.runner import StyleRunner  # noqa: E402
from realtime.format.style import load_style  # noqa: E402
from realtime.offline.validate import run_aligned  # noqa: E402

RATE = 48000
HELD_OUT = range(0, 8)  # sentences 1-8
TRAINING = range(8, 20)  # sentences 9-20
DEFAULT_PAIRS = ("kal:slt", "slt:kal", "awb:rms", "rms:slt")
VOICES = ("kal", "awb", "rms", "slt")
GAP_SECONDS = 0.3  # between held-out sentences read in a row
MCD_RATE, MCD_FRAME_MS, MCD_FFT, MCD_ORDER, MCD_ALPHA = 22050, 5.0, 512, 13, 0.65
MCD_DB = 10.0 / math.log(10.0) * math.sqrt(2.0)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- mel-cepstral distortion --------------------------------------------------------------------

def freqt(cepstra: np.ndarray, order: int, alpha: float) -> np.ndarray:
    """SPTK's ``freqt``: cepstra [frames, n] to frequency-warped cepstra [frames, order + 1]."""
    frames = cepstra.shape[0]
    d = np.zeros((frames, order + 1))
    g = np.zeros((frames, order + 1))
    b = 1.0 - alpha * alpha
    for i in range(cepstra.shape[1] - 1, -1, -1):
        d[:] = g
        g[:, 0] = cepstra[:, i] + alpha * d[:, 0]
        g[:, 1] = b * d[:, 0] + alpha * d[:, 1]
        for j in range(2, order + 1):
            g[:, j] = d[:, j - 1] + alpha * (d[:, j] - g[:, j - 1])
    return g


def mel_cepstra(audio_48k: np.ndarray) -> np.ndarray:
    """[frames, MCD_ORDER + 1]: pysptk.sptk.mcep(sp, 13, 0.65, maxiter=0, etype=1, eps=1e-8,
    itype=3) of WORLD's envelope, as pymcd computes it."""
    pyworld = import_pyworld()
    x = resample(audio_48k, RATE, MCD_RATE).astype(np.float64)
    x = x * (0.05 / max(float(np.sqrt(np.mean(x ** 2))), 1e-9))
    _, envelope, _ = pyworld.wav2world(x, fs=MCD_RATE, frame_period=MCD_FRAME_MS, fft_size=MCD_FFT)
    periodogram = envelope ** 2 + 1e-8  # itype 3 reads the envelope as an amplitude; etype 1 adds eps
    n = MCD_FFT
    cepstra = np.fft.irfft(np.log(periodogram), n, axis=1)[:, : n // 2 + 1]
    cepstra[:, 0] /= 2
    cepstra[:, n // 2] /= 2
    return freqt(cepstra, MCD_ORDER, MCD_ALPHA)


def dtw_path(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """The exact dynamic-time-warping path between frame sequences a and b (Euclidean)."""
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        diagonal_or_up = cost[i - 1] + np.minimum(total[i - 1, 1:], total[i - 1, :-1])
        row = total[i]
        for j in range(1, m + 1):
            row[j] = min(diagonal_or_up[j - 1], cost[i - 1, j - 1] + row[j - 1])
    path, i, j = [], n, m
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = np.argmin([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]])
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return path[::-1]


def mcd_db(reference_48k: np.ndarray, other_48k: np.ndarray) -> float:
    a, b = mel_cepstra(reference_48k), mel_cepstra(other_48k)
    pairs = np.array(dtw_path(a[:, 1:], b[:, 1:]))
    difference = a[pairs[:, 0]] - b[pairs[:, 1]]
    return float(MCD_DB * np.sqrt((difference ** 2).sum(-1)).mean())


# ---- material and styles ------------------------------------------------------------------------

def sentences(folder: Path, voice: str, indices) -> list[np.ndarray]:
    return [flite_sentence(folder, voice, index, RATE) for index in indices]


def training_folder(folder: Path, voice: str, all_speech: Path) -> Path:
    target = folder / f"train-{voice}"
    if not target.exists():
        target.mkdir()
        for index in TRAINING:
            sentences(all_speech, voice, [index])
            shutil.copy(all_speech / f"{voice}-{index:02d}.wav", target)
    return target


def styled_in_a_row(style_path: Path, clips: list[np.ndarray]) -> list[np.ndarray]:
    """The clips read one after another (GAP_SECONDS apart) through the style from zero state,
    each cut out of the result."""
    gap = np.zeros(int(GAP_SECONDS * RATE), np.float32)
    starts, pieces, at = [], [], 0
    for clip in clips:
        starts.append(at)
        pieces += [clip, gap]
        at += len(clip) + len(gap)
    style = load_style(style_path)
    runner = StyleRunner(style, max_frames=128)
    runner.set_params([p.default for p in style.manifest.params])
    out = run_aligned(runner, np.concatenate(pieces), 128)
    return [out[s: s + len(c)] for s, c in zip(starts, clips)]


def mean_f0(clips: list[np.ndarray]) -> float:
    f0 = np.concatenate([f0_hz(resample(c, RATE, 16000)) for c in clips])
    return float(np.exp(np.mean(np.log(f0[f0 > 0])))) if (f0 > 0).any() else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), help="SOURCE:TARGET flite voices")
    parser.add_argument("--json")
    args = parser.parse_args()
    pairs = [tuple(p.split(":")) for p in args.pairs]
    for pair in pairs:
        if len(pair) != 2 or not set(pair) <= set(VOICES) or pair[0] == pair[1]:
            raise SystemExit(f"--pairs: '{':'.join(pair)}' is not SOURCE:TARGET of two of {', '.join(VOICES)}")
    if shutil.which("flite") is None:
        raise SystemExit("flite: not installed (apt-get install flite)")
    from models.voice_personal import train_voice

    recognise = Recogniser()
    texts = [HARVARD_SENTENCES[i] for i in HELD_OUT]
    rows = []
    with tempfile.TemporaryDirectory(prefix="stylerack-personal-") as scratch:
        folder = Path(scratch)
        speech = folder / "speech"
        speech.mkdir()
        for source, target in pairs:
            held_source = sentences(speech, source, HELD_OUT)
            held_target = sentences(speech, target, HELD_OUT)
            before = [mcd_db(t, s) for s, t in zip(held_source, held_target)]
            dry_words = [recognise(resample(c, RATE, 16000)) for c in held_source]
            for with_source in (True, False):
                name = f"{source}-to-{target}{'' if with_source else '-nosource'}"
                started = time.perf_counter()
                report = train_voice(training_folder(folder, target, speech), name, folder,
                                     training_folder(folder, source, speech) if with_source else None)
                fit_seconds = time.perf_counter() - started
                styled = styled_in_a_row(folder / f"{name}.onnx", held_source)
                after = [mcd_db(t, y) for y, t in zip(styled, held_target)]
                words = [recognise(resample(c, RATE, 16000)) for c in styled]
                row = {
                    "source": source, "target": target, "with_source": with_source,
                    "mcd_before_db": float(np.mean(before)), "mcd_after_db": float(np.mean(after)),
                    "mcd_reduction": float(1 - np.mean(after) / np.mean(before)),
                    "wer_source": word_error_rate(texts, dry_words), "wer_styled": word_error_rate(texts, words),
                    "f0_source_hz": mean_f0(held_source), "f0_styled_hz": mean_f0(styled),
                    "f0_target_hz": mean_f0(held_target),
                    "fit_seconds": round(fit_seconds, 1), "mapping": report["mapping"],
                    "real_time_factor": report["real_time_factor"], "latency_samples": report["latency_samples"],
                }
                rows.append(row)
                log(f"{name}: MCD {row['mcd_before_db']:.2f} -> {row['mcd_after_db']:.2f} dB "
                    f"({100 * row['mcd_reduction']:.0f}% less), WER {100 * row['wer_source']:.0f}% -> "
                    f"{100 * row['wer_styled']:.0f}%, f0 {row['f0_source_hz']:.0f} -> {row['f0_styled_hz']:.0f} Hz "
                    f"(target {row['f0_target_hz']:.0f}), fit {fit_seconds:.0f} s")
    print("| source -> target | --source | MCD before / after (dB) | reduction | WER source / styled | "
          "mean f0 source / styled / target (Hz) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['source']} -> {r['target']} | {'yes' if r['with_source'] else 'no'} | {r['mcd_before_db']:.2f} / "
              f"{r['mcd_after_db']:.2f} | {100 * r['mcd_reduction']:.0f}% | {100 * r['wer_source']:.0f}% / "
              f"{100 * r['wer_styled']:.0f}% | {r['f0_source_hz']:.0f} / {r['f0_styled_hz']:.0f} / "
              f"{r['f0_target_hz']:.0f} |")
    for with_source in (True, False):
        picked = [r for r in rows if r["with_source"] == with_source]
        print(f"\n{'with' if with_source else 'without'} --source: MCD reduction "
              f"{100 * np.mean([r['mcd_reduction'] for r in picked]):.0f}% (mean over pairs); WER rise "
              f"{100 * np.mean([r['wer_styled'] - r['wer_source'] for r in picked]):+.1f} points (mean over pairs)")
    if args.json:
        Path(args.json).write_text(json.dumps({"held_out_sentences": [i + 1 for i in HELD_OUT],
                                               "training_sentences": [i + 1 for i in TRAINING], "rows": rows},
                                              indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
