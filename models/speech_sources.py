"""Speech the benchmarks share: the Harvard sentences, flite speaking them, and reading audio.

bench/voice.py uses lists 1 and 2; models/denoise_material.py keeps lists 3 and 4 for its test
split (and 1 and 2 for training), so the two never score on each other's sentences by accident.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 48000

HARVARD_SENTENCES = (
    # list 1
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    # list 2
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    # list 3
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    # list 4
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
)


def resample(audio: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    """``audio`` as float64 at ``rate_to`` (soxr HQ)."""
    import soxr

    audio = np.asarray(audio, np.float64)
    return audio if rate_from == rate_to else soxr.resample(audio, rate_from, rate_to)


def read_mono(source, rate: int = RATE) -> np.ndarray:
    """A file (path or file object) as mono float64 at ``rate`` (soxr HQ)."""
    audio, file_rate = sf.read(source, dtype="float64", always_2d=True)
    return resample(audio.mean(axis=1), file_rate, rate)


def flite_say(voice: str, text: str, path: Path) -> Path:
    """flite voice ``voice`` speaking ``text`` into the WAV file ``path``."""
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True, capture_output=True)
    return path


def flite_version() -> str:
    """"flite-2.2-current" or the like (from the "version:" line of ``flite --version``)."""
    done = subprocess.run(["flite", "--version"], check=False, capture_output=True, text=True)
    found = re.search(r"version:\s*(\S+)", done.stdout + done.stderr)
    return found[1] if found else "flite"
