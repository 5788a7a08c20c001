"""Monophonic instrument material for timbre styles, rendered dry (no reverb, no chorus) with
fluidsynth and a General MIDI soundfont (nothing downloaded): varied melodies over each
instrument's range, legato and detached notes, dynamics (velocity and expression swells),
vibrato (pitch bend) and slides. Training and held-out melodies use different random seeds; renders are cached
in a folder that is never committed.

Also the held-out voice-like input for the pitch-following measurement: espeak-ng speech
(sentences not used anywhere else) and a sung line (the soundfont's 'voice oohs').
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from models.material import RATE, _require, read_mono, soundfont, speak

INSTRUMENTS = {  # name: (General MIDI program, lowest note, highest note)
    "violin": (40, 55, 93),
    "flute": (73, 60, 96),
    "trumpet": (56, 54, 84),
    "cello": (42, 36, 76),
}
SEEDS = {"train": 100, "eval": 900}
SECONDS = {"train": 150.0, "eval": 24.0}
VOICE_SENTENCES = (("en-us", "A violin can sing almost like a human voice, if you let it."),
                   ("en-gb", "Whistle a tune and hear it played on another instrument."))
VOICE_PROGRAM = 53  # voice oohs
TICKS_PER_SECOND = 960  # 480 ticks per beat at 120 bpm
BEND_RANGE_ST = 2.0  # General MIDI default pitch-bend range


def write_monophonic_midi(path: Path, program: int, low: int, high: int, seed: int, seconds: float) -> None:
    import mido

    rng = np.random.default_rng(seed)
    events: list[tuple[float, mido.Message]] = [(0.0, mido.Message("program_change", program=program))]
    now, note = 0.2, int(rng.integers(low + 4, high - 4))
    while now < seconds:
        length = float(rng.choice([0.12, 0.2, 0.3, 0.5, 0.8, 1.2, 1.8]))
        detached = rng.random() < 0.35
        sounding = length * (0.6 if detached else 1.0)
        velocity = int(rng.integers(35, 127))
        events.append((now, mido.Message("note_on", note=note, velocity=velocity)))
        # expression: a swell, a fade or flat, in 20 ms steps
        shape = rng.choice(["flat", "swell", "fade", "arch"])
        for k, at in enumerate(np.arange(0.0, sounding, 0.02)):
            x = at / max(sounding, 1e-3)
            level = {"flat": 1.0, "swell": 0.5 + 0.5 * x, "fade": 1.0 - 0.6 * x, "arch": 0.6 + 0.4 * np.sin(np.pi * x)}[shape]
            events.append((now + at, mido.Message("control_change", control=11, value=int(127 * level))))
        # vibrato on longer notes, after a short delay; an occasional slide into the note
        depth = rng.uniform(0.1, 0.4) if length >= 0.5 and rng.random() < 0.7 else 0.0
        rate = rng.uniform(4.5, 6.5)
        slide = rng.uniform(-1.0, 1.0) if rng.random() < 0.15 else 0.0
        for at in np.arange(0.0, sounding, 0.01):
            bend = slide * max(0.0, 1.0 - at / 0.08) + depth * np.sin(2 * np.pi * rate * max(0.0, at - 0.2)) * (at > 0.2)
            events.append((now + at, mido.Message("pitchwheel", pitch=int(np.clip(bend / BEND_RANGE_ST * 8191, -8191, 8191)))))
        events.append((now + sounding, mido.Message("note_off", note=note, velocity=0)))
        events.append((now + sounding, mido.Message("pitchwheel", pitch=0)))
        now += length + (float(rng.choice([0.0, 0.0, 0.15, 0.5])) if not detached else 0.0)
        step = int(rng.choice([-7, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7, 12, -12]))
        note = int(np.clip(note + step, low, high))
    events.sort(key=lambda item: item[0])
    track = mido.MidiTrack()
    previous = 0
    for at, message in events:
        tick = int(round(at * TICKS_PER_SECOND))
        track.append(message.copy(time=tick - previous))
        previous = tick
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(path))


def render_midi(midi: Path, work: Path) -> np.ndarray:
    wav = midi.with_suffix(".wav")
    subprocess.run(
        [_require("fluidsynth"), "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(RATE), "-F", str(wav), soundfont(), str(midi)],
        check=True, capture_output=True,
    )
    return read_mono(wav)


def normalise(audio: np.ndarray, peak_db: float = -3.0) -> np.ndarray:
    peak = float(np.abs(audio).max())
    return (audio / peak * 10 ** (peak_db / 20)).astype(np.float32) if peak > 0 else audio


def instrument(name: str, split: str, folder: Path) -> np.ndarray:
    """The instrument's melodies for ``split`` ('train' or 'eval'), cached as a WAV in ``folder``."""
    cached = Path(folder) / f"timbre-{name}-{split}.wav"
    if cached.exists():
        return sf.read(str(cached), dtype="float32")[0]
    program, low, high = INSTRUMENTS[name]
    with tempfile.TemporaryDirectory() as temp:
        midi = Path(temp) / "melody.mid"
        write_monophonic_midi(midi, program, low, high, SEEDS[split] + program, SECONDS[split])
        audio = normalise(render_midi(midi, Path(temp)))
    Path(folder).mkdir(parents=True, exist_ok=True)
    sf.write(str(cached), audio, RATE, subtype="FLOAT")
    return audio


def voice_inputs(folder: Path) -> dict[str, np.ndarray]:
    """Held-out voice-like input: each sentence spoken, and one sung line."""
    cached = Path(folder) / "timbre-voice-eval.npz"
    if cached.exists():
        return dict(np.load(cached))
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        found = {f"spoken-{k}": normalise(speak(v, s, work, k), -6.0) for k, (v, s) in enumerate(VOICE_SENTENCES)}
        midi = work / "sung.mid"
        write_monophonic_midi(midi, VOICE_PROGRAM, 48, 67, 4242, 12.0)
        found["sung"] = normalise(render_midi(midi, work), -6.0)
    Path(folder).mkdir(parents=True, exist_ok=True)
    np.savez(cached, **found)
    return found
