"""Voice styles on speech: latency, cost, pitch accuracy, intelligibility and naturalness.

    .venv/bin/python bench/voice.py [--styles PATH ...] [--sentences 8] [--quick] [--anchors world|none]
                                    [--json FILE]

Styles: by default every ``realtime/styles/*.onnx`` whose manifest category is ``voice``;
``--styles`` names files of any category. Knobs other than ``pitch`` (semitones) and
``formant`` (semitones) stay at their defaults; a part that needs a knob the style lacks is
skipped for that style (a style without knobs is still measured at its defaults, where the
expected pitch shift is 0).

Anchor (``--anchors world``, the default; ``--anchors none`` skips it): an offline reference
measured by exactly the same protocol (settings, clips, metrics), shown as its own rows,
"WORLD (offline, non-causal)", and under "anchors" in the JSON. It is the WORLD vocoder
(pyworld): Harvest (f0 60-1000 Hz, 5 ms frames), CheapTrick and D4C on the whole 48 kHz clip,
then synthesis, with f0 multiplied by 2^(pitch / 12) and each frame's spectral envelope and
aperiodicity warped along frequency, sp'(f) = sp(f / 2^(formant / 12)) (linear interpolation
between bins, the last bin held beyond the top); output as long as the input. Its knobs are
pitch -12..12 and formant -4..4 semitones, both 0 by default, so its "defaults" row is plain
analysis-resynthesis. Why: each metric has a floor of its own (Harvest disagrees with itself on
resynthesised speech, pocketsphinx and DNSMOS react to any vocoding), and a good offline shifter
measured the same way shows how much of a style's number is that floor and how much is the
style. It sees the whole clip, so it has no latency or cost to compare: "offline / n/a" in the
table (its own processing time is in the JSON, ``offline_timing``, for information).

Material (nothing downloaded, nothing cached; flite writes into a temporary folder):

- synthetic speech with a transcript: flite's voices kal (8 kHz diphone), awb, rms and slt
  (16 kHz), each reading the first ``--sentences`` Harvard sentences (list 1, then list 2);
- real speech without one: eight dialogue lines of Debian's ``fillets-ng-data`` (5 Russian,
  3 German; actors, 22 kHz; ``scripts/setup.sh --material`` installs it).

Every clip is resampled to 48 kHz mono (soxr HQ) and peak-normalised to -12 dBFS. A style runs
from zero state on each clip in 128-frame blocks (rounded up to its block multiple), with its
declared latency removed, and then by what is left of its delay, measured on every clip
(``measured_delay``: the energy envelopes' cross-correlation, -10..+20 ms) and the median over
the setting's clips taken for all: a voice style declares its onset latency, and its grains lag
a little more. The JSON keeps each setting's ``alignment_ms`` (median, min, max over the clips).

Metrics:

- latency: declared (ms; and with one 128-frame block of buffering) and measured as
  ``stylerack validate`` does (an impulse, or a tone's onset for ``latency_probe: "onset"``);
  the onset delay is also recorded for every style.
- cost: ``validate``'s median at 128 frames, and our own timing of 3000 consecutive 128-frame
  calls on speech: median and p99 in microseconds and as a real-time factor.
- pitch accuracy (all clips): f0 of input and output by WORLD's Harvest (pyworld; 16 kHz,
  5 ms frames, 60-1000 Hz); for frames voiced in both, the error in cents of the output
  against input * 2^(pitch / 12): median |error|, the share of *unshifted* frames (the output
  within 100 cents of the input's own f0 although a shift of 2 semitones or more was asked: a
  voiced frame the style took for unvoiced) and the share of *octave errors* (every other
  |error| > 600 cents), at pitch -7, -5, +5, +7 (formant 0) and at the defaults; "overall"
  pools the frames of all of these. (Earlier versions counted both kinds as octave errors.)
  The same numbers are also given on the frames where the input's f0 is *unambiguous*: voiced
  for Harvest and for a second, independent tracker (WORLD's DIO refined by StoneMask), the two
  within 50 cents. Harvest fills short gaps and weakly voiced stretches with a smooth f0 that
  DIO calls unvoiced (a flite voice's "94, 135, 165, 146, 102 Hz" over 25 ms where DIO hears no
  voicing): there the input has no f0 for an output to follow. Which frames are kept depends
  on the dry input only, never on the output measured.
- intelligibility (flite clips): word error rate of pocketsphinx 5 (its bundled US English
  acoustic model, language model and dictionary) after lower-casing and stripping
  punctuation, pooled over the sentences; the rise over the dry WER (points) on the grid pitch
  {-7, 0, +7} x formant {-3, 0, +3} (``--quick``: the four corners) and at the defaults.
  Pocketsphinx's general language model is weak, so the dry WER is high: read the rise.
- naturalness (all clips): DNSMOS P.835 OVRL (speechmos, 16 kHz; clips under 9 s are tiled to
  9 s, as DNSMOS does; each clip's score the mean over 0-1 ms of delay: bench/naturalness.py), dry
  against pitch -5 and +5 (formant 0) and the defaults; the drop is dry minus styled. Before
  ASR and DNSMOS every clip is scaled to -25 dBFS RMS, so a style's gain does not count.

Time on two CPU cores, defaults: about 1 min for the dry material, then per style with pitch and
formant about 5 min plus its real-time factor times the 17 min of audio it renders (a style
without knobs: 1 min); ``--quick`` saves 30-70 s a style; the four DNSMOS runs a clip add
about 2.5 min a style (``--sentences 4 --quick`` on four shift styles and the WORLD anchor:
47 min). The WORLD anchor takes about as long as a style with both knobs (its analysis, 0.27 x
real time, runs once per clip and is kept, about 350 MB at the defaults; its synthesis, 0.02 x
real time, once per clip and setting): about 90 s with ``--sentences 1 --quick``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import importlib.util
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.naturalness import delayed, scaled_to_rms  # noqa: E402
from bench import naturalness  # noqa: E402
from realtime.engine.runner import StyleRunner, round_up  # noqa: E402
from models.speech_sources import HARVARD_SENTENCES as ALL_HARVARD_SENTENCES  # noqa: E402
from models.speech_sources import flite_say, flite_version, read_mono, resample  # noqa: E402
from realtime.errors import StyleRackError  # noqa: E402
from realtime.format.manifest import ParamSpec  # noqa: E402
from realtime.format.style import Style, load_style  # noqa: E402
from realtime.offline.validate import measure_cost, measure_latency, measure_onset_latency, run_aligned  # noqa: E402

RATE = 48000
ANALYSIS_RATE = 16000  # pyworld, pocketsphinx and DNSMOS
BLOCK_FRAMES = 128
PEAK_DBFS = -12.0
TIMED_CALLS = 3000
WARM_UP_CALLS = 200

FLITE_VOICES = ("kal", "awb", "rms", "slt")
HARVARD_SENTENCES = ALL_HARVARD_SENTENCES[:20]  # lists 1 and 2
FILLETS_SOUND = Path("/usr/share/games/fillets-ng/sound")
#: (file under FILLETS_SOUND, language): the package's spoken lines of 2-6 s (the Russian elk's
#: and the German parrot's), less three of the eight Russian ones
FILLETS_CLIPS = (
    ("elk/en/deu-l-los1.ogg", "ru"),
    ("elk/en/deu-l-necital.ogg", "ru"),
    ("elk/en/deu-l-nesmotrel.ogg", "ru"),
    ("elk/en/deu-l-neznaju.ogg", "ru"),
    ("elk/en/deu-l-pozalsta.ogg", "ru"),
    ("elk/en/deu-p-ordnung.ogg", "de"),
    ("elk/en/deu-p-trinken0.ogg", "de"),
    ("elk/en/deu-p-trinken1.ogg", "de"),
)

PITCH_STEPS_ST = (-7.0, -5.0, 5.0, 7.0)
WER_PITCHES_ST = (-7.0, 0.0, 7.0)
WER_FORMANTS_ST = (-3.0, 0.0, 3.0)
DNSMOS_PITCHES_ST = (-5.0, 5.0)
F0_FLOOR_HZ, F0_CEIL_HZ, F0_FRAME_MS = 60.0, 1000.0, 5.0
GROSS_ERROR_CENTS = 600.0  # an error larger than this is one of the two kinds below
UNSHIFTED_CENTS = 100.0  # the output within this of the input's own f0 although a shift was asked
UNSHIFTED_MIN_SHIFT_ST = 2.0  # ... of at least this many semitones (a smaller shift cannot be told from an error)
#: a dry frame's f0 is unambiguous when Harvest and DIO + StoneMask both find it voiced and
#: agree within this many cents
UNAMBIGUOUS_CENTS = 50.0
#: frames whose intended output f0 (the input's x 2^(pitch/12)) is outside this range are not
#: scored: Harvest cannot report an f0 under its floor and reports a harmonic instead. A male
#: voice lowered 7 semitones reaches 55 Hz; WORLD's own shift, measured this way, had 7.8% octave
#: errors at pitch -7 with those frames and 0.6% without them (and ours 7.7% and 4.0%).
MEASURABLE_HZ = (1.1 * F0_FLOOR_HZ, F0_CEIL_HZ / 1.1)
#: a style's output is lined up with its input by the median over a setting's clips of the delay
#: measured on each (the energy envelopes' cross-correlation, in ENVELOPE_MS frames, searched this
#: far around the declared latency): the declared latency of a voice style is its *onset*
#: latency, which differs from how late its grains are (with the nearest mark alone, feminine
#: declared 928 samples; aligned by that instead of its grains' 992, its pitch error read 1-3
#: cents higher and its DNSMOS drop 0.04 lower)
ALIGN_SEARCH_MS = (-10.0, 20.0)
ENVELOPE_MS = 1.0
METRICS = ("pitch", "wer", "dnsmos")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- material ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    name: str  # "flite/slt/03", "fillets/ru/deu-l-los1"
    source: str  # "flite" or "fillets"
    audio: np.ndarray  # mono float32 at RATE, peak at PEAK_DBFS
    text: str | None = None  # the words spoken (flite only)


def to_peak(audio: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    return (audio * (10 ** (peak_dbfs / 20) / max(float(np.abs(audio).max()), 1e-9))).astype(np.float32)


def flite_sentences(voices: Sequence[str] = FLITE_VOICES, count: int = 8, rate: int = RATE) -> list[Clip]:
    """Each flite voice reading the first ``count`` Harvard sentences: clips at ``rate``, mono,
    peak-normalised, with their text. Synthesised into a temporary folder that is removed."""
    if shutil.which("flite") is None:
        raise SystemExit("flite: not installed (apt-get install flite)")
    if not 1 <= count <= len(HARVARD_SENTENCES):
        raise SystemExit(f"--sentences must be 1..{len(HARVARD_SENTENCES)}")
    clips = []
    with tempfile.TemporaryDirectory(prefix="stylerack-voice-") as folder:
        for voice in voices:
            for index, text in enumerate(HARVARD_SENTENCES[:count]):
                audio = flite_sentence(Path(folder), voice, index, rate)
                clips.append(Clip(f"flite/{voice}/{index:02d}", "flite", audio, text))
    return clips


def flite_sentence(folder: Path, voice: str, index: int, rate: int = RATE) -> np.ndarray:
    """flite ``voice`` reading Harvard sentence ``index`` (0-based), at ``rate``, mono,
    peak-normalised; synthesised into ``folder`` as VOICE-INDEX.wav, or read from there when an
    earlier call left it."""
    path = Path(folder) / f"{voice}-{index:02d}.wav"
    if not path.exists():
        flite_say(voice, ALL_HARVARD_SENTENCES[index], path)
    return to_peak(read_mono(path, rate))


def fillets_speech(rate: int = RATE) -> list[Clip]:
    """The FILLETS_CLIPS dialogue lines (real speech, no transcript used)."""
    if not FILLETS_SOUND.is_dir():
        raise SystemExit(f"{FILLETS_SOUND}: not installed (apt-get install fillets-ng-data, "
                         "or scripts/setup.sh --material)")
    return [Clip(f"fillets/{language}/{Path(name).stem}", "fillets", to_peak(read_mono(FILLETS_SOUND / name, rate)))
            for name, language in FILLETS_CLIPS]


# ---- analysis ---------------------------------------------------------------------------------

def import_pyworld():
    """pyworld, or its compiled core when the package's ``__init__`` cannot run: the sdist of
    pyworld 0.3.5 (pulled in by pymcd) overwrites pyworld-prebuilt's and imports
    ``pkg_resources``, which setuptools >= 81 no longer ships."""
    try:
        import pyworld

        return pyworld
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise
    folder = Path(importlib.util.find_spec("pyworld").origin).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        core = folder / f"pyworld{suffix}"
        if core.is_file():
            spec = importlib.util.spec_from_file_location("pyworld", core)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ModuleNotFoundError("pyworld: its package cannot be imported and its compiled core was not found")


_PYWORLD = None


def pyworld():
    """pyworld (``import_pyworld``), imported once, on first use."""
    global _PYWORLD
    if _PYWORLD is None:
        _PYWORLD = import_pyworld()
    return _PYWORLD


def f0_hz(audio_16k: np.ndarray) -> np.ndarray:
    """f0 per 5 ms frame (0 where unvoiced), WORLD's Harvest on 16 kHz audio."""
    f0, _ = pyworld().harvest(np.ascontiguousarray(audio_16k, dtype=np.float64), ANALYSIS_RATE,
                             f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=F0_FRAME_MS)
    return f0


def f0_check_hz(audio_16k: np.ndarray) -> np.ndarray:
    """f0 per 5 ms frame (0 where unvoiced) by a second tracker, independent of Harvest: WORLD's
    DIO refined by StoneMask, on 16 kHz audio (the same frame grid as ``f0_hz``)."""
    x = np.ascontiguousarray(audio_16k, dtype=np.float64)
    f0, times = pyworld().dio(x, ANALYSIS_RATE, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=F0_FRAME_MS)
    return pyworld().stonemask(x, f0, times, ANALYSIS_RATE)


def unambiguous(f0_hz_track: np.ndarray, f0_check_track: np.ndarray) -> np.ndarray:
    """``f0_hz_track`` (Harvest) where the second tracker agrees within UNAMBIGUOUS_CENTS (both
    voiced), 0 elsewhere: the frames whose f0 is not in doubt (cut to the shorter track)."""
    frames = min(len(f0_hz_track), len(f0_check_track))
    h, d = np.asarray(f0_hz_track[:frames], float), np.asarray(f0_check_track[:frames], float)
    agree = (h > 0) & (d > 0)
    agree[agree] = np.abs(1200.0 * np.log2(h[agree] / d[agree])) < UNAMBIGUOUS_CENTS
    return np.where(agree, h, 0.0)


def out_of_range(f0_in_hz: np.ndarray, shift_semitones: float = 0.0) -> np.ndarray:
    """Per frame: voiced in the input, with an intended output f0 outside ``MEASURABLE_HZ``."""
    f_in = np.asarray(f0_in_hz, float)
    intended = f_in * 2.0 ** (shift_semitones / 12.0)
    return (f_in > 0) & ((intended < MEASURABLE_HZ[0]) | (intended > MEASURABLE_HZ[1]))


def f0_cents_error(f0_in_hz: np.ndarray, f0_out_hz: np.ndarray, shift_semitones: float = 0.0) -> np.ndarray:
    """Cents by which the output's f0 misses the input's shifted by ``shift_semitones``, for the
    frames voiced (f0 > 0) in both tracks whose intended f0 Harvest can measure (``out_of_range``
    frames are left out; same frame grid, the longer track is cut)."""
    frames = min(len(f0_in_hz), len(f0_out_hz))
    f_in, f_out = np.asarray(f0_in_hz[:frames], float), np.asarray(f0_out_hz[:frames], float)
    voiced = (f_in > 0) & (f_out > 0) & ~out_of_range(f_in, shift_semitones)
    return 1200.0 * np.log2(f_out[voiced] / (f_in[voiced] * 2.0 ** (shift_semitones / 12.0)))


def pitch_summary(cents: np.ndarray, shift_st: float | np.ndarray = 0.0) -> dict:
    """The median absolute error and the gross errors (over GROSS_ERROR_CENTS) of ``cents``
    (``f0_cents_error`` of frames asked to shift by ``shift_st``, one value or one per frame),
    in two kinds: *unshifted* frames, where the output kept the input's own pitch (a voicing the
    style missed: at pitch -7 that is a 700-cent error, at +-5 a 500-cent one, so some are not
    gross), and *octave errors*, every other gross error (the output an octave or more off)."""
    if not len(cents):
        return {"median_abs_cents": None, "octave_error_fraction": None, "unshifted_fraction": None,
                "gross_error_fraction": None, "voiced_frames": 0}
    cents = np.asarray(cents, float)
    shift = np.broadcast_to(np.asarray(shift_st, float), cents.shape)
    unshifted = (np.abs(shift) >= UNSHIFTED_MIN_SHIFT_ST) & (np.abs(cents + 100.0 * shift) < UNSHIFTED_CENTS)
    gross = np.abs(cents) > GROSS_ERROR_CENTS
    return {"median_abs_cents": float(np.median(np.abs(cents))),
            "octave_error_fraction": float(np.mean(gross & ~unshifted)),
            "unshifted_fraction": float(np.mean(unshifted)),
            "gross_error_fraction": float(np.mean(gross)),
            "voiced_frames": int(len(cents))}


def words(text: str) -> list[str]:
    """Lower-cased words, punctuation stripped (apostrophes inside words kept: "it's")."""
    return [word.strip("'") for word in re.sub(r"[^a-z0-9']+", " ", text.lower()).split() if word.strip("'")]


def word_edits(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two word lists (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(ref: str | Sequence[str], hyp: str | Sequence[str]) -> float:
    """Word error rate: word-level edit distance / reference words, after ``words()``.
    Two strings are one utterance; two equal-length sequences of strings are pooled (total
    edits over total reference words)."""
    refs, hyps = ([ref], [hyp]) if isinstance(ref, str) else (list(ref), list(hyp))
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    edits = sum(word_edits(words(r), words(h)) for r, h in zip(refs, hyps))
    total = sum(len(words(r)) for r in refs)
    return edits / max(total, 1)


class Recogniser:
    """pocketsphinx 5 with its bundled US English models, one utterance at a time. The feature
    extraction is re-initialised before each, so an utterance's words do not depend on the ones
    decoded before it (its cepstral-mean and other running estimates otherwise carry over)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=ANALYSIS_RATE, loglevel="FATAL")

    def __call__(self, audio_16k: np.ndarray) -> str:
        pcm = (scaled_to_rms(audio_16k) * 32767).astype("<i2").tobytes()
        self.decoder.reinit_feat()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hypothesis = self.decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""


def dnsmos_ovrl(audio_16k: np.ndarray) -> float:
    """DNSMOS OVRL as bench/naturalness.py scores it (the mean over 0-1 ms of delay)."""
    return naturalness.dnsmos(audio_16k)["ovrl"]


def measured_delay(reference: np.ndarray, output: np.ndarray, rate: int,
                   search_ms: tuple[float, float] = ALIGN_SEARCH_MS) -> int:
    """How many samples ``output`` lags ``reference`` (within ``search_ms``): the peak of the
    cross-correlation of their log-energy envelopes (ENVELOPE_MS frames, the peak refined by a
    parabola); 0 when either is silent."""
    frame = max(int(rate * ENVELOPE_MS / 1000), 1)
    count = min(len(reference), len(output)) // frame

    def envelope(audio: np.ndarray) -> np.ndarray:
        energy = np.mean(np.square(np.asarray(audio[: count * frame], np.float64)).reshape(count, frame), axis=1)
        level = 10 * np.log10(energy + 1e-10)
        level = np.maximum(level, level.max() - 50)  # the quiet gaps count alike
        return level - level.mean()

    ref, out = envelope(reference), envelope(output)
    if count < 8 or not np.any(ref) or not np.any(out):
        return 0
    lags = np.arange(int(np.floor(search_ms[0] / ENVELOPE_MS)), int(np.ceil(search_ms[1] / ENVELOPE_MS)) + 1)
    score = np.array([np.dot(ref[max(-lag, 0): count - max(lag, 0)], out[max(lag, 0): count - max(-lag, 0)])
                      / (count - abs(lag)) for lag in lags])
    best = int(np.argmax(score))
    offset = 0.0
    if 0 < best < len(lags) - 1:
        left, middle, right = score[best - 1: best + 2]
        curvature = left - 2 * middle + right
        offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return int(round((lags[best] + offset) * frame))


@dataclass
class ClipScores:
    """What one clip (dry or styled) measured: only the fields asked for are filled."""

    f0_hz: np.ndarray | None = None
    f0_unambiguous_hz: np.ndarray | None = None  # dry clips only: ``unambiguous``
    transcript: str | None = None
    ovrl: float | None = None


def analyse(audio: np.ndarray, rate: int, metrics: set[str], recognise: Recogniser | None,
            with_text: bool, dry: bool = False) -> ClipScores:
    audio_16k = resample(np.asarray(audio, np.float64), rate, ANALYSIS_RATE)
    scores = ClipScores()
    if "pitch" in metrics:
        scores.f0_hz = f0_hz(audio_16k)
        if dry:
            scores.f0_unambiguous_hz = unambiguous(scores.f0_hz, f0_check_hz(audio_16k))
    if "wer" in metrics and with_text:
        scores.transcript = recognise(audio_16k)
    if "dnsmos" in metrics:
        scores.ovrl = dnsmos_ovrl(audio_16k)
    return scores


# ---- styles -----------------------------------------------------------------------------------

@dataclass
class Setting:
    """One set of knob values to measure, and which metrics to take there."""

    label: str
    params: tuple[float, ...]  # every knob, in manifest order, clamped
    pitch_st: float  # the pitch shift expected of the output (0 without a pitch knob)
    is_defaults: bool
    metrics: set[str] = field(default_factory=set)


class Renderer:
    """What the settings are measured on: a style (``StyleRenderer``) or an offline anchor
    (``WorldAnchor``). ``knobs`` are its knobs in the order ``render`` takes their values."""

    name: str
    knobs: tuple[ParamSpec, ...]
    sample_rate: int

    def render(self, audio: np.ndarray, params: Sequence[float]) -> np.ndarray:
        """The output for mono ``audio`` (at ``sample_rate``, float) with knob values ``params``:
        mono float64, the same length as ``audio`` and aligned with it."""
        raise NotImplementedError


class StyleRenderer(Renderer):
    """A style, rendered by ``render(runner, ...)`` (from zero state, in blocks, latency removed)."""

    def __init__(self, style: Style, runner: StyleRunner | None = None) -> None:
        self.style = style
        self.runner = runner if runner is not None else new_runner(style)
        self.name = style.name
        self.knobs = tuple(style.manifest.params)
        self.sample_rate = self.runner.sample_rate

    def render(self, audio: np.ndarray, params: Sequence[float]) -> np.ndarray:
        return render(self.runner, audio, params)


class WorldAnchor(Renderer):
    """The offline reference: WORLD analysis (Harvest f0 at ``f0_floor``..``f0_ceil``, 5 ms frames;
    CheapTrick spectral envelope; D4C aperiodicity) and synthesis at 48 kHz, with f0 multiplied
    by 2^(pitch / 12) and the envelope and aperiodicity of each frame warped along frequency,
    sp'(f) = sp(f / 2^(formant / 12)) (linear interpolation between bins, the last bin held
    beyond the top). Non-causal (each analysis sees the whole clip) and offline. The analysis of
    a clip does not depend on the knobs, so it is kept (per clip content, in memory: about 3.3 MB
    a second of audio) for the next setting."""

    key = "world"
    label = "WORLD (offline, non-causal)"
    f0_floor_hz, f0_ceil_hz, frame_ms = 60.0, 1000.0, 5.0

    def __init__(self) -> None:
        self.name = self.label
        self.knobs = (ParamSpec("pitch", -12.0, 12.0, 0.0, "st", 1.0),
                      ParamSpec("formant", -4.0, 4.0, 0.0, "st", 0.5))
        self.sample_rate = RATE
        self.pyworld = import_pyworld()
        self._analyses: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # time spent so far, and the audio it was spent on (each clip is analysed once)
        self.analysis_seconds = self.synthesis_seconds = 0.0
        self.analysed_samples = self.synthesised_samples = 0

    def method(self) -> str:
        return (f"pyworld {pyworld_version()}: harvest (f0 {self.f0_floor_hz:g}-{self.f0_ceil_hz:g} Hz, "
                f"{self.frame_ms:g} ms frames), cheaptrick, d4c, synthesize, at {self.sample_rate} Hz; "
                "f0 x 2^(pitch/12); spectral envelope and aperiodicity warped sp'(f) = sp(f / 2^(formant/12)) "
                "(linear between bins, last bin held); output cut or zero-padded to the input's length")

    def analysis(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(f0, spectral envelope, aperiodicity) of ``audio`` (float64), computed once per content."""
        key = hashlib.blake2b(audio.tobytes(), digest_size=16).digest() + len(audio).to_bytes(8, "little")
        if key not in self._analyses:
            started = time.perf_counter()
            pw, rate = self.pyworld, self.sample_rate
            f0, times = pw.harvest(audio, rate, f0_floor=self.f0_floor_hz, f0_ceil=self.f0_ceil_hz,
                                   frame_period=self.frame_ms)
            self._analyses[key] = (f0, pw.cheaptrick(audio, f0, times, rate), pw.d4c(audio, f0, times, rate))
            self.analysis_seconds += time.perf_counter() - started
            self.analysed_samples += len(audio)
        return self._analyses[key]

    def render(self, audio: np.ndarray, params: Sequence[float]) -> np.ndarray:
        pitch_st, formant_st = params
        x = np.ascontiguousarray(audio, dtype=np.float64)
        f0, sp, ap = self.analysis(x)
        started = time.perf_counter()
        f0 = f0 * 2.0 ** (pitch_st / 12.0)
        if formant_st != 0.0:
            sp, ap = warp_frequency(sp, 2.0 ** (formant_st / 12.0)), warp_frequency(ap, 2.0 ** (formant_st / 12.0))
        y = self.pyworld.synthesize(np.ascontiguousarray(f0), np.ascontiguousarray(sp), np.ascontiguousarray(ap),
                                    self.sample_rate, self.frame_ms)
        out = np.zeros(len(x))
        out[: min(len(x), len(y))] = y[: len(x)]
        self.synthesis_seconds += time.perf_counter() - started
        self.synthesised_samples += len(x)
        return out

    def timing(self) -> dict:
        """Seconds spent and real-time factors of the analysis (once per clip) and the synthesis
        (once per clip and setting); ``rtf_one_render``: both, for one render of a clip."""
        analysis_rtf = self.analysis_seconds * self.sample_rate / max(self.analysed_samples, 1)
        synthesis_rtf = self.synthesis_seconds * self.sample_rate / max(self.synthesised_samples, 1)
        return {"analysis_seconds": self.analysis_seconds, "analysed_audio_seconds": self.analysed_samples / RATE,
                "synthesis_seconds": self.synthesis_seconds,
                "synthesised_audio_seconds": self.synthesised_samples / RATE,
                "analysis_rtf": analysis_rtf, "synthesis_rtf": synthesis_rtf,
                "rtf_one_render": analysis_rtf + synthesis_rtf}


def warp_frequency(frames: np.ndarray, ratio: float) -> np.ndarray:
    """Each row (one frame over frequency bins 0..K-1) warped so that out[k] = row(k / ratio):
    linear interpolation between bins, the last bin held beyond the top."""
    bins = frames.shape[1]
    source = np.arange(bins) / ratio
    low = np.minimum(np.floor(source).astype(int), bins - 1)
    high = np.minimum(low + 1, bins - 1)
    frac = np.clip(source - low, 0.0, 1.0)
    return frames[:, low] * (1.0 - frac) + frames[:, high] * frac


ANCHORS = {WorldAnchor.key: WorldAnchor}


def knob_specs(renderer: Renderer | Style) -> tuple[ParamSpec, ...]:
    return tuple(renderer.manifest.params) if isinstance(renderer, Style) else tuple(renderer.knobs)


def knob_names(renderer: Renderer | Style) -> list[str]:
    return [p.name for p in knob_specs(renderer)]


def resolve(renderer: Renderer | Style, knobs: dict[str, float]) -> tuple[float, ...]:
    """All knob values: ``knobs`` where given, defaults elsewhere, clamped (and stepped)."""
    return tuple(spec.clamp(knobs.get(spec.name, spec.default)) for spec in knob_specs(renderer))


def settings_for(renderer: Renderer | Style, quick: bool, metrics: Sequence[str] = METRICS) -> list[Setting]:
    """The knob settings a style or anchor is measured at: pitch steps (formant 0), the WER grid
    over the knobs it has, DNSMOS at pitch +-5 and the defaults; identical settings merged."""
    names = knob_names(renderer)
    has_pitch, has_formant = "pitch" in names, "formant" in names
    wanted: list[tuple[dict[str, float], str]] = [({}, "pitch"), ({}, "wer"), ({}, "dnsmos")]
    zero_formant = {"formant": 0.0} if has_formant else {}
    if has_pitch:
        wanted += [({"pitch": p, **zero_formant}, "pitch") for p in PITCH_STEPS_ST]
        wanted += [({"pitch": p, **zero_formant}, "dnsmos") for p in DNSMOS_PITCHES_ST]
    pitches = WER_PITCHES_ST if has_pitch else (None,)
    formants = WER_FORMANTS_ST if has_formant else (None,)
    for p in pitches:
        for f in formants:
            knobs = {k: v for k, v in (("pitch", p), ("formant", f)) if v is not None}
            corner = all(v != 0.0 for v in knobs.values())
            if knobs and (corner or not quick):
                wanted.append((knobs, "wer"))
    defaults = resolve(renderer, {})
    by_params: dict[tuple[float, ...], Setting] = {}
    for knobs, metric in [(knobs, metric) for knobs, metric in wanted if metric in metrics]:
        params = resolve(renderer, knobs)
        if params not in by_params:
            named = {k: params[names.index(k)] for k in ("pitch", "formant") if k in names}
            label = ", ".join(f"{k} {v:+g}" for k, v in named.items())
            if params == defaults:
                label = f"defaults ({label})" if label else "defaults"
            pitch_st = params[names.index("pitch")] if has_pitch else 0.0
            by_params[params] = Setting(label, params, pitch_st, params == defaults)
        by_params[params].metrics.add(metric)
    return list(by_params.values())


def new_runner(style: Style) -> StyleRunner:
    return StyleRunner(style, max_frames=round_up(8192, style.manifest.block_multiple))


def render(runner: StyleRunner, audio: np.ndarray, params: Sequence[float]) -> np.ndarray:
    """The style's output for mono ``audio`` (at the style's rate) with knob values ``params``,
    from zero state in BLOCK_FRAMES blocks, its declared latency removed: same length as
    ``audio``, aligned with it. A multi-channel style gets ``audio`` on every channel and its
    output's channel average is returned."""
    runner.set_params(params)
    return run_aligned(runner, audio, BLOCK_FRAMES).astype(np.float64)


def latency_report(runner: StyleRunner) -> dict:
    manifest = runner.style.manifest
    rate, declared = manifest.sample_rate, manifest.latency_samples
    runner.set_params(resolve(runner.style, {}))
    onset, onset_check = measure_onset_latency(runner, declared, rate)
    if manifest.latency_probe == "onset":
        measured, check = onset, onset_check
    else:
        measured, check = measure_latency(runner, declared)
    block_ms = 1000 * round_up(BLOCK_FRAMES, runner.block_multiple) / rate

    def ms(samples: int | None) -> float | None:
        return None if samples is None else 1000 * samples / rate

    return {"probe": manifest.latency_probe, "declared_samples": declared, "declared_ms": ms(declared),
            "declared_with_block_ms": ms(declared) + block_ms, "measured_samples": measured,
            "measured_ms": ms(measured),
            "measured_with_block_ms": None if measured is None else ms(measured) + block_ms,
            "onset_samples": onset, "check_ok": check.ok, "check": check.detail}


def cost_report(runner: StyleRunner, speech: np.ndarray) -> dict:
    """``validate``'s cost (median of 300 calls on noise) and our own timing of TIMED_CALLS
    consecutive calls on looped speech, after WARM_UP_CALLS untimed ones."""
    rate = runner.sample_rate
    runner.set_params(resolve(runner.style, {}))
    validate_us, validate_rtf = measure_cost(runner, rate)
    block = round_up(BLOCK_FRAMES, runner.block_multiple)
    feed = np.resize(speech.astype(np.float32), (WARM_UP_CALLS + TIMED_CALLS) * block).reshape(-1, block)
    runner.reset()
    seconds = np.zeros(TIMED_CALLS)
    for index, chunk in enumerate(feed):
        runner.input_view(block)[...] = chunk
        started = time.perf_counter()
        runner.run(block)
        if index >= WARM_UP_CALLS:
            seconds[index - WARM_UP_CALLS] = time.perf_counter() - started
    block_s = block / rate
    median_s, p99_s = float(np.median(seconds)), float(np.percentile(seconds, 99))
    return {"block_frames": block, "validate_median_us": validate_us, "validate_rtf": validate_rtf,
            "median_us": median_s * 1e6, "p99_us": p99_s * 1e6, "max_us": float(seconds.max() * 1e6),
            "median_rtf": median_s / block_s, "p99_rtf": p99_s / block_s, "calls": TIMED_CALLS}


def measure_setting(renderer: Renderer, setting: Setting, clips: list[Clip], dry: list[ClipScores],
                    recognise: Recogniser) -> tuple[dict, tuple[np.ndarray, np.ndarray] | None]:
    """Render (a style or an anchor) the clips this setting's metrics need and score them against
    the dry ones: the setting's results, and its pitch errors in cents with the shift asked of
    each frame (None when pitch is not measured here)."""
    rate = renderer.sample_rate
    cents, cents_unambiguous, refs, hyps, ovrl, lags_ms = [], [], [], [], {"flite": [], "fillets": []}, []
    unscored = voiced_in = 0  # the input's voiced frames whose intended f0 is out of Harvest's range
    used = [(clip, dry_scores) for clip, dry_scores in zip(clips, dry)
            if setting.metrics != {"wer"} or clip.text is not None]
    rendered = []
    for clip, _ in used:
        source = resample(clip.audio, RATE, rate)
        styled = renderer.render(source, setting.params)
        rendered.append(styled)
        lags_ms.append(1000.0 * measured_delay(source, styled, rate) / rate)
    # one delay for every clip of the setting, the median of theirs (a clip's own estimate
    # scatters by a few milliseconds: syllable envelopes are broad)
    lag = int(round(np.median(lags_ms) * rate / 1000.0))
    for (clip, dry_scores), styled in zip(used, rendered):
        scores = analyse(delayed(styled, -lag), rate, setting.metrics, recognise, clip.text is not None)
        if scores.f0_hz is not None:
            cents.append(f0_cents_error(dry_scores.f0_hz, scores.f0_hz, setting.pitch_st))
            cents_unambiguous.append(f0_cents_error(dry_scores.f0_unambiguous_hz, scores.f0_hz, setting.pitch_st))
            unscored += int(out_of_range(dry_scores.f0_hz, setting.pitch_st).sum())
            voiced_in += int((np.asarray(dry_scores.f0_hz) > 0).sum())
        if scores.transcript is not None:
            refs.append(clip.text)
            hyps.append(scores.transcript)
        if scores.ovrl is not None:
            ovrl[clip.source].append(scores.ovrl)
    result: dict = {"label": setting.label, "is_defaults": setting.is_defaults,
                    "params": dict(zip(knob_names(renderer), setting.params)),
                    "expected_pitch_st": setting.pitch_st,
                    # the output's delay beyond what the render removed: measured on each clip
                    # (min, max) and the median, which every clip was moved by (ms)
                    "alignment_ms": {"median": float(np.median(lags_ms)), "min": float(np.min(lags_ms)),
                                     "max": float(np.max(lags_ms))}}
    pitch_frames = None  # (cents, the shift asked) per frame: all frames, unambiguous frames
    if "pitch" in setting.metrics:
        pooled = np.concatenate(cents)
        result["pitch"] = pitch_summary(pooled, setting.pitch_st)
        result["pitch"]["out_of_range_fraction"] = unscored / max(voiced_in, 1)
        sure = np.concatenate(cents_unambiguous)
        result["pitch_unambiguous"] = pitch_summary(sure, setting.pitch_st)
        pitch_frames = ((pooled, np.full(len(pooled), setting.pitch_st)), (sure, np.full(len(sure), setting.pitch_st)))
    if "wer" in setting.metrics:
        result["wer"] = word_error_rate(refs, hyps)
        result["transcripts"] = hyps
    if "dnsmos" in setting.metrics:
        result["dnsmos_ovrl"] = mean_by_source(ovrl)
    return result, pitch_frames


def mean_by_source(values: dict[str, list[float]]) -> dict:
    every = [v for vs in values.values() for v in vs]
    return {"all": float(np.mean(every)), **{k: float(np.mean(vs)) for k, vs in values.items() if vs}}


def measure_settings(renderer: Renderer, clips: list[Clip], dry: list[ClipScores], dry_summary: dict,
                     quick: bool, recognise: Recogniser | None, metrics: Sequence[str] = METRICS) -> dict:
    """Every setting of ``settings_for(renderer, quick, metrics)`` measured, and their summary."""
    settings = settings_for(renderer, quick, metrics)
    measured_settings, cents_by_setting = [], []
    for index, setting in enumerate(settings, 1):
        setting_started = time.perf_counter()
        measured, cents = measure_setting(renderer, setting, clips, dry, recognise)
        measured_settings.append(measured)
        cents_by_setting.append(cents)
        log(f"{renderer.name}: setting {index}/{len(settings)} ({setting.label}; "
            f"{', '.join(sorted(setting.metrics))}) {describe(measured, dry_summary)} "
            f"[{time.perf_counter() - setting_started:.0f} s]")
    return {"settings": measured_settings,
            "summary": summarise_style(measured_settings, cents_by_setting, dry_summary,
                                       "pitch" in knob_names(renderer))}


def bench_style(style: Style, clips: list[Clip], dry: list[ClipScores], dry_summary: dict, quick: bool,
                recognise: Recogniser | None, metrics: Sequence[str] = METRICS) -> dict:
    started = time.perf_counter()
    runner = new_runner(style)
    runner.warm_up(round_up(BLOCK_FRAMES, runner.block_multiple), calls=20)
    result = {"style": style.name, "path": str(style.path), "category": style.manifest.category,
              "knobs": {p.name: p.default for p in style.manifest.params}}
    log(f"{style.name}: latency and cost")
    result["latency"] = latency_report(runner)
    result["cost"] = cost_report(runner, resample(clips[0].audio, RATE, runner.sample_rate))
    result.update(measure_settings(StyleRenderer(style, runner), clips, dry, dry_summary, quick, recognise, metrics))
    result["non_finite_resets"] = runner.non_finite_resets
    result["seconds"] = time.perf_counter() - started
    return result


def pyworld_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for distribution in ("pyworld", "pyworld-prebuilt"):
        try:
            return version(distribution)
        except PackageNotFoundError:
            pass
    return "(version unknown)"


def bench_anchor(key: str, clips: list[Clip], dry: list[ClipScores], dry_summary: dict, quick: bool,
                 recognise: Recogniser | None, metrics: Sequence[str] = METRICS) -> dict:
    """An anchor measured by the styles' protocol; offline, so no latency and no cost (``null``);
    its own processing time is recorded (``offline_timing``) for information only."""
    started = time.perf_counter()
    anchor = ANCHORS[key]()
    log(f"{anchor.name}: anchor")
    result = {"style": anchor.name, "anchor": key, "offline": True, "causal": False,
              "method": anchor.method(), "knobs": {p.name: p.default for p in anchor.knobs},
              "latency": None, "cost": None}
    result.update(measure_settings(anchor, clips, dry, dry_summary, quick, recognise, metrics))
    result["offline_timing"] = anchor.timing()
    result["seconds"] = time.perf_counter() - started
    return result


def describe(measured: dict, dry_summary: dict) -> str:
    parts = []
    if "pitch" in measured and measured["pitch"]["voiced_frames"]:
        parts.append(f"pitch {measured['pitch']['median_abs_cents']:.0f} c, "
                     f"{100 * measured['pitch']['octave_error_fraction']:.1f}% octave errors, "
                     f"{100 * measured['pitch']['unshifted_fraction']:.1f}% unshifted, "
                     f"{100 * measured['pitch'].get('out_of_range_fraction', 0.0):.1f}% out of Harvest's range; "
                     f"unambiguous frames: {pitch_cells(measured.get('pitch_unambiguous'))}")
    if "wer" in measured:
        parts.append(f"WER {100 * measured['wer']:.1f}% (dry {100 * dry_summary['wer']:.1f}%)")
    if "dnsmos_ovrl" in measured:
        parts.append(f"OVRL {measured['dnsmos_ovrl']['all']:.2f} (dry {dry_summary['dnsmos_ovrl']['all']:.2f})")
    return "; ".join(parts)


def pooled_pitch(frames: list[tuple[np.ndarray, np.ndarray]]) -> dict | None:
    """``pitch_summary`` of (cents, shift asked) pooled over settings."""
    if not frames:
        return None
    return pitch_summary(np.concatenate([c for c, _ in frames]), np.concatenate([s for _, s in frames]))


def summarise_style(settings: list[dict], cents_by_setting: list[tuple | None], dry_summary: dict,
                    has_pitch: bool) -> dict:
    """The table's numbers: pitch pooled over its settings, the worst WER rise, DNSMOS at +-5."""
    pitched = [s for s in settings if "pitch" in s]
    pooled_cents = [c for c in cents_by_setting if c is not None]
    with_wer = [s for s in settings if "wer" in s]
    for s in with_wer:
        s["wer_rise"] = s["wer"] - dry_summary["wer"]
    worst = max(with_wer, key=lambda s: s["wer_rise"]) if with_wer else None
    if has_pitch:
        shifted = [s for s in settings if "dnsmos_ovrl" in s and s["expected_pitch_st"] in DNSMOS_PITCHES_ST
                   and s["params"].get("formant", 0.0) == 0.0]
    else:
        shifted = [s for s in settings if "dnsmos_ovrl" in s]
    styled_ovrl = float(np.mean([s["dnsmos_ovrl"]["all"] for s in shifted])) if shifted else None
    defaults = next((s for s in settings if s["is_defaults"]), {})
    return {
        "pitch_overall": pooled_pitch([every for every, _ in pooled_cents]),
        "pitch_overall_unambiguous": pooled_pitch([sure for _, sure in pooled_cents]),
        "pitch_overall_settings": [s["label"] for s in pitched],
        "pitch_at_defaults_only": [s["is_defaults"] for s in pitched] == [True],
        "wer_dry": dry_summary.get("wer"),
        "wer_worst": {"label": worst["label"], "wer": worst["wer"], "rise": worst["wer_rise"]} if worst else None,
        "dnsmos_dry": dry_summary.get("dnsmos_ovrl", {}).get("all"),
        "dnsmos_styled": styled_ovrl,
        "dnsmos_styled_at": "pitch -5 and +5" if has_pitch else "defaults",
        "dnsmos_drop": None if styled_ovrl is None else dry_summary["dnsmos_ovrl"]["all"] - styled_ovrl,
        "dnsmos_defaults": defaults.get("dnsmos_ovrl", {}).get("all"),
    }


# ---- the run ----------------------------------------------------------------------------------

def default_styles() -> list[Path]:
    found = []
    for path in sorted((ROOT / "realtime" / "styles").glob("*.onnx")):
        try:
            if load_style(path).manifest.category == "voice":
                found.append(path)
        except StyleRackError as exc:
            log(f"skipped: {exc}")
    return found


def dry_scores(clips: list[Clip], recognise: Recogniser | None,
               metrics: Sequence[str] = METRICS) -> tuple[list[ClipScores], dict]:
    dry = []
    for index, clip in enumerate(clips, 1):
        dry.append(analyse(clip.audio, RATE, set(metrics), recognise, clip.text is not None, dry=True))
        if index % 8 == 0 or index == len(clips):
            log(f"dry: {index}/{len(clips)} clips analysed")
    ovrl = {"flite": [], "fillets": []}
    for clip, scores in zip(clips, dry):
        ovrl[clip.source].append(scores.ovrl)

    def wer_of(prefix: str) -> float:
        pairs = [(c.text, d.transcript) for c, d in zip(clips, dry) if c.text is not None and c.name.startswith(prefix)]
        return word_error_rate([t for t, _ in pairs], [h for _, h in pairs])

    summary: dict = {"metrics": list(metrics)}
    if "wer" in metrics:
        summary.update({"wer": wer_of("flite/"),
                        "wer_by_voice": {voice: wer_of(f"flite/{voice}/") for voice in FLITE_VOICES},
                        "transcripts": {c.name: d.transcript for c, d in zip(clips, dry) if c.text is not None}})
    if "dnsmos" in metrics:
        summary["dnsmos_ovrl"] = mean_by_source(ovrl)
    if "pitch" in metrics:
        summary.update({"voiced_frames": int(sum(np.count_nonzero(d.f0_hz) for d in dry)),
                        "unambiguous_frames": int(sum(np.count_nonzero(d.f0_unambiguous_hz) for d in dry))})
    return dry, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", type=Path, help="style files (default: the voice styles shipped)")
    parser.add_argument("--sentences", type=int, default=8,
                        help=f"Harvard sentences per flite voice (1-{len(HARVARD_SENTENCES)})")
    parser.add_argument("--quick", action="store_true", help="WER grid: the four corners (and the defaults) only")
    parser.add_argument("--anchors", nargs="+", default=[WorldAnchor.key], choices=[*ANCHORS, "none"],
                        help="offline references measured the same way, shown as their own rows "
                             f"(default: {WorldAnchor.key}; 'none': skip)")
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), choices=METRICS,
                        help="what to measure (default: all; latency and cost are always measured)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    anchors = [] if "none" in args.anchors else list(dict.fromkeys(args.anchors))

    paths = args.styles or default_styles()
    if not paths:
        print("bench/voice.py: no voice style found (no realtime/styles/*.onnx has category 'voice'); "
              "name one with --styles", file=sys.stderr)
        return 2
    try:
        styles = [load_style(p) for p in paths]
    except StyleRackError as exc:
        print(f"bench/voice.py: {exc}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    log(f"material: flite ({len(FLITE_VOICES)} voices x {args.sentences} sentences), "
        f"fillets-ng ({len(FILLETS_CLIPS)} clips)")
    clips = flite_sentences(FLITE_VOICES, args.sentences) + fillets_speech()
    metrics = list(dict.fromkeys(args.metrics))
    recognise = Recogniser() if "wer" in metrics else None
    dry, dry_summary = dry_scores(clips, recognise, metrics)
    sources = describe_sources(clips, args.sentences)
    results = [bench_style(style, clips, dry, dry_summary, args.quick, recognise, metrics) for style in styles]
    anchor_results = [bench_anchor(key, clips, dry, dry_summary, args.quick, recognise, metrics) for key in anchors]

    print(table(results + anchor_results, dry_summary))
    print()
    print(settings_table(results + anchor_results))
    print()
    print(sources)
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"sources": sources, "sentences_per_voice": args.sentences, "quick": args.quick,
                                         "dry": dry_summary, "styles": results, "anchors": anchor_results},
                                        indent=2, default=float) + "\n")
    return 0


def describe_sources(clips: list[Clip], sentences: int) -> str:
    def seconds(source: str) -> float:
        return sum(len(c.audio) for c in clips if c.source == source) / RATE

    flite_count = sum(c.source == "flite" for c in clips)
    fillets_names = ", ".join(c.name.removeprefix("fillets/") for c in clips if c.source == "fillets")
    return (f"Sources: {flite_version()}, voices {', '.join(FLITE_VOICES)} x the first {sentences} Harvard sentences "
            f"({flite_count} clips, {seconds('flite'):.0f} s; WER, pitch, DNSMOS); fillets-ng-data dialogue "
            f"({FILLETS_SOUND}): {fillets_names} ({seconds('fillets'):.0f} s; pitch, DNSMOS). "
            f"All at {RATE} Hz, peak {PEAK_DBFS:g} dBFS; scored at {ANALYSIS_RATE} Hz.")


def fmt(value: float | None, pattern: str, missing: str = "n/a") -> str:
    return missing if value is None else format(value, pattern)


def table(results: list[dict], dry_summary: dict) -> str:
    lines = ["| style | latency declared / measured (ms; with a 128 block) | RTF median / p99 (128 frames) "
             "| pitch median abs error (cents) / octave errors / unshifted | the same, where the input's f0 "
             "is unambiguous | WER dry -> worst rise | DNSMOS OVRL dry -> styled (drop) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lat, cost, s = r["latency"], r["cost"], r["summary"]
        if r.get("offline"):
            latency = rtf = "offline / n/a"
        else:
            latency = (f"{lat['declared_ms']:.2f} / {fmt(lat['measured_ms'], '.2f')} "
                       f"({lat['declared_with_block_ms']:.2f} / {fmt(lat['measured_with_block_ms'], '.2f')})")
            rtf = (f"{cost['median_rtf']:.3f} / {cost['p99_rtf']:.3f} "
                   f"({cost['median_us']:.0f} / {cost['p99_us']:.0f} us)")
        at_defaults = " (defaults)" if s["pitch_at_defaults_only"] else ""
        pitch_cell, sure_cell = (pitch_cells(s["pitch_overall"]) + at_defaults,
                                 pitch_cells(s.get("pitch_overall_unambiguous")) + at_defaults)
        worst = s["wer_worst"]
        wer = "not measured" if worst is None else (
            f"{100 * s['wer_dry']:.1f}% -> {100 * worst['rise']:+.1f} pts at {worst['label']}")
        dnsmos = "not measured" if s["dnsmos_dry"] is None else (
            f"{s['dnsmos_dry']:.2f} -> {fmt(s['dnsmos_styled'], '.2f')} at {s['dnsmos_styled_at']} "
            f"({fmt(s['dnsmos_drop'], '.2f')})")
        lines.append(f"| {r['style']} | {latency} | {rtf} | {pitch_cell} | {sure_cell} | {wer} | {dnsmos} |")
    return "\n".join(lines)


def pitch_cells(pitch: dict | None) -> str:
    """'median / octave errors / unshifted' of a ``pitch_summary``."""
    if pitch is None or not pitch["voiced_frames"]:
        return "n/a"
    return (f"{pitch['median_abs_cents']:.1f} / {100 * pitch['octave_error_fraction']:.1f}% / "
            f"{100 * pitch['unshifted_fraction']:.1f}%")


def settings_table(results: list[dict]) -> str:
    lines = ["| style | setting | pitch median abs error (cents) | octave errors | unshifted | voiced frames "
             "(out of Harvest's range, not scored) | unambiguous input f0: median / octave / unshifted (frames) "
             "| WER (rise, pts) | DNSMOS OVRL |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows = [(s["label"], s.get("pitch"), s.get("pitch_unambiguous"), s) for s in r["settings"]]
        overall = r["summary"]["pitch_overall"]
        if overall and overall["voiced_frames"] and len(r["summary"]["pitch_overall_settings"]) > 1:
            rows.append((f"overall ({len(r['summary']['pitch_overall_settings'])} settings)", overall,
                         r["summary"].get("pitch_overall_unambiguous"), {}))
        for label, pitch, sure, s in rows:
            has_pitch = bool(pitch and pitch["voiced_frames"])
            cells = [
                r["style"], label,
                f"{pitch['median_abs_cents']:.1f}" if has_pitch else "",
                f"{100 * pitch['octave_error_fraction']:.1f}%" if has_pitch else "",
                f"{100 * pitch['unshifted_fraction']:.1f}%" if has_pitch else "",
                (f"{pitch['voiced_frames']}" + (f" ({100 * pitch['out_of_range_fraction']:.1f}%)"
                                                 if "out_of_range_fraction" in pitch else "")) if pitch else "",
                f"{pitch_cells(sure)} ({sure['voiced_frames']})" if sure else "",
                f"{100 * s['wer']:.1f}% ({100 * s['wer_rise']:+.1f})" if "wer" in s else "",
                f"{s['dnsmos_ovrl']['all']:.2f}" if "dnsmos_ovrl" in s else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

if __name__ == "__main__":
    sys.exit(main())
