"""Training and evaluation audio made here, from nothing downloaded: sampled instruments
rendered with fluidsynth and a General MIDI soundfont, speech from espeak-ng, and test
signals (sweeps, noise bursts, chords, transients), all at 48 kHz mono.

The evaluation set uses other instruments, other sentences, other melodies (other random
seeds) than training, and holds program material only; its own test signals are a separate
stress set. Files are cached in a folder (never committed); building them takes
about a minute.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

RATE = 48000
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
SYSTEM_PACKAGES = "fluidsynth fluid-soundfont-gm espeak-ng"

SPLITS = {
    "train": {
        "programs": {"piano": 0, "bright-piano": 1, "harpsichord": 6, "vibraphone": 11, "organ": 16,
                     "nylon-guitar": 24, "jazz-guitar": 26, "clean-guitar": 27, "muted-guitar": 28, "bass": 33,
                     "synth-bass": 38, "violin": 40, "harp": 46, "strings": 48, "choir": 52, "trumpet": 56,
                     "trombone": 57, "french-horn": 60, "alto-sax": 65, "oboe": 68, "flute": 73,
                     "square-lead": 80, "saw-lead": 81, "banjo": 105},
        "sentences": [
            ("en", "The quick brown fox jumps over the lazy dog near the quiet river bank."),
            ("en-us", "Sound travels faster in water than it does in the open air."),
            ("de", "Musik ist die Sprache, die jeder Mensch versteht."),
            ("fr", "La musique adoucit les moeurs et le coeur des hommes."),
            ("it", "Il concerto comincia alle nove in punto nella piazza grande."),
            ("en-us", "Please hold the line while we connect your call to the studio."),
        ],
        "seed": 1000,
        "melody_seconds": 8.0,
    },
    "eval": {
        "programs": {"e-piano": 4, "steel-guitar": 25, "cello": 42, "clarinet": 71, "fretless-bass": 35},
        "sentences": [
            ("en-gb", "Every evening the old lighthouse keeper climbed two hundred steps."),
            ("es", "El sonido de la guitarra llena la sala de conciertos."),
        ],
        "seed": 9000,
        "melody_seconds": 5.0,
    },
}


class MaterialError(RuntimeError):
    pass


def soundfont() -> str:
    for path in SOUNDFONTS:
        if Path(path).exists():
            return path
    raise MaterialError(f"no General MIDI soundfont found; install the system packages: apt-get install {SYSTEM_PACKAGES}")


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise MaterialError(f"'{tool}' is not installed; install the system packages: apt-get install {SYSTEM_PACKAGES}")
    return found


def write_melody_midi(path: Path, program: int, seed: int, seconds: float) -> None:
    """A random melody with chords, rests, varied velocities and note lengths."""
    import mido

    rng = np.random.default_rng(seed)
    track = mido.MidiTrack()
    track.append(mido.Message("program_change", program=program, time=0))
    ticks_per_second = 960  # at the default 120 bpm with 480 ticks per beat
    low = 40 if program in (32, 33, 34, 35, 42) else 55
    note = int(rng.integers(low, low + 12))
    elapsed = 0.0
    while elapsed < seconds:
        length = float(rng.choice([0.08, 0.15, 0.25, 0.4, 0.7]))
        velocity = int(rng.integers(25, 127))
        chord = [note] + ([note + 4, note + 7] if rng.random() < 0.25 else [])
        for pitch in chord:
            track.append(mido.Message("note_on", note=pitch, velocity=velocity, time=0))
        track.append(mido.Message("note_off", note=chord[0], velocity=0, time=int(length * ticks_per_second)))
        for pitch in chord[1:]:
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=0))
        rest = float(rng.choice([0.0, 0.0, 0.05, 0.3]))
        track.append(mido.Message("note_on", note=0, velocity=0, time=int(rest * ticks_per_second)))
        note = int(np.clip(note + rng.integers(-5, 6), low - 5, low + 24))
        elapsed += length + rest
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(path))


def read_mono(path: Path) -> np.ndarray:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE).astype(np.float32)
    return mono


def render_instrument(program: int, seed: int, seconds: float, work: Path) -> np.ndarray:
    fluidsynth = _require("fluidsynth")
    midi, wav = work / f"m{program}_{seed}.mid", work / f"m{program}_{seed}.wav"
    write_melody_midi(midi, program, seed, seconds)
    subprocess.run(
        [fluidsynth, "-ni", "-q", "-g", "0.8", "-r", str(RATE), "-F", str(wav), soundfont(), str(midi)],
        check=True, capture_output=True,
    )
    return read_mono(wav)


def speak(voice: str, text: str, work: Path, index: int) -> np.ndarray:
    espeak = _require("espeak-ng")
    wav = work / f"speech{index}.wav"
    subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    return read_mono(wav)


def test_signals(seed: int, seconds: float = 6.0) -> list[np.ndarray]:
    """A log sweep, noise bursts with decays, synthetic chords, and clicks/plucks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(2.0 * RATE)) / RATE
    f0, f1 = 30.0, 16000.0
    sweep = np.sin(2 * np.pi * f0 * 2.0 / np.log(f1 / f0) * (np.exp(t / 2.0 * np.log(f1 / f0)) - 1))
    bursts = np.zeros(int(1.5 * RATE))
    for start in rng.integers(0, len(bursts) - 6000, 10):
        decay = np.exp(-np.arange(6000) / rng.uniform(300, 3000))
        bursts[start : start + 6000] += rng.normal(0, 0.5, 6000) * decay
    chord_t = np.arange(int(1.5 * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * f * chord_t) for f in rng.uniform(80, 900, 3)) * np.exp(-chord_t * 1.5)
    transients = np.zeros(int(1.0 * RATE))
    for start in rng.integers(0, len(transients) - 2000, 14):
        pluck = np.sin(2 * np.pi * rng.uniform(100, 2000) * np.arange(2000) / RATE) * np.exp(-np.arange(2000) / 200)
        transients[start : start + 2000] += pluck
    return [sweep, bursts, chord, transients]


def _level(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Trim silence, normalise to a random peak between -24 and -1 dBFS."""
    loud = np.flatnonzero(np.abs(clip) > 1e-4)
    if len(loud) == 0:
        return clip[:0]
    clip = clip[loud[0] : loud[-1] + 1]
    peak = float(np.abs(clip).max())
    return (clip / peak * 10 ** (rng.uniform(-24, -1) / 20)).astype(np.float32)


def build(split: str, folder: Path, test_signals_only: bool = False) -> np.ndarray:
    """The split's audio, concatenated with short gaps (cached as ``folder/<split>.wav``).

    'train' holds instruments, speech and test signals; 'eval' holds instruments and speech
    only (program material); ``test_signals_only`` gives the split's test signals alone
    (sweep, noise bursts, chord, transients), reported separately as a stress test."""
    if test_signals_only:
        rng = np.random.default_rng(SPLITS[split]["seed"] + 1)
        gap = np.zeros(RATE // 10, np.float32)
        return np.concatenate([part for clip in test_signals(SPLITS[split]["seed"]) for part in (_level(clip, rng), gap)])
    cached = Path(folder) / f"{split}.wav"
    if cached.exists():
        return sf.read(str(cached), dtype="float32")[0]
    spec = SPLITS[split]
    rng = np.random.default_rng(spec["seed"])
    clips: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        for offset, program in enumerate(spec["programs"].values()):
            clips.append(render_instrument(program, spec["seed"] + offset, spec["melody_seconds"], work))
        for index, (voice, text) in enumerate(spec["sentences"]):
            clips.append(speak(voice, text, work, index))
    if split == "train":
        clips += test_signals(spec["seed"])
    gap = np.zeros(RATE // 10, np.float32)
    audio = np.concatenate([part for clip in clips for part in (_level(clip, rng), gap)])
    Path(folder).mkdir(parents=True, exist_ok=True)
    sf.write(str(cached), audio, RATE, subtype="FLOAT")
    return audio
