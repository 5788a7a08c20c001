"""Speech-denoise material: real speech in real (and generated) noise, and the train/test split.

bench/denoise.py scores on the held-out TEST items made here; a training script reuses
``split_of(name)`` and the loaders (``speech_units``, ``opensfx_clips``, ``generated_noise``) so that
nothing it trains on is in the test set. Nothing is downloaded and nothing is cached: every item
is rebuilt from Debian packages and seeds, bit for bit the same on every run.

    apt-get install klettres-data fillets-ng-data flite openttd-opensfx
    apt-get install gcin-voice festival festvox-italp16k festvox-czech-dita festvox-ca-ona-hts  # training only
    apt-get install asterisk-core-sounds-{en,es,fr,it,ru}-g722; pip install G722  # training only

Names. Every unit of material has a name, and ``split_of(name)`` says "test", "train" or
"neither" (material neither side may use, so that no speaker, text or recording crosses):

- ``klettres/<language>/<alpha|syllab>/<stem>``: KLettres' letters and syllables (real speakers,
  one per language, 44.1 kHz). The speaker is the language folder: TEST_KLETTRES_LANGUAGES are
  test, every other language is train.
- ``fillets/elk/<l|p>/<stem>``: Fish Fillets NG's spoken lines (``sound/elk/*/deu-<l|p>-*.ogg``,
  real actors, 22 kHz): speaker "p" (the German parrot, 9 lines) is test, speaker "l" (the Russian
  elk, 10 lines) is train. The package's other sounds are not speech: "neither".
- ``flite/<voice>/<index>``: flite voice ``voice`` reading ``HARVARD_SENTENCES[index]`` (lists 1-4).
  Test: voice in TEST_FLITE_VOICES *and* a sentence of lists 3-4 (TEST_SENTENCE_INDICES); train: any
  other voice reading a sentence of lists 1-2 (or any text outside lists 3-4); a test voice on a
  train sentence or a train voice on a test sentence: "neither".
- ``gcin/<take>/<syllable>``: gcin-voice's Mandarin syllables (a real speaker, 44.1 kHz; the
  package's two takes of each syllable, ``3.ogg`` and ``5.ogg``, count as two speakers; every
  GCIN_EVERY-th syllable). Train only: more voices, and a tonal language.
- ``festival/<voice>/<index>``: a Festival voice made from one real speaker's recordings
  (FESTIVAL_VOICES: Italian, Czech and Catalan women, 16-32 kHz) reading
  ``HARVARD_SENTENCES[index]``, lists 1-2. Train only: the other sources' training voices are
  nearly all men's (flite's awb, rms and kal, Fish Fillets' elk), and a held-out woman's voice
  (flite's slt) was where the style did worst.
- ``asterisk/<voice>/<path>``: Asterisk's telephone prompts (``asterisk-core-sounds-*-g722``: four
  voice talents, ASTERISK_VOICES, reading whole phrases, numbers and letters; G.722 at 16 kHz,
  decoded with the ``G722`` package). The speaker is the voice folder (Allison's English and
  Spanish count as two). Train only: the one source of continuous read speech by real people;
  the others are letters, syllables, game lines or voices built from diphones.
- ``opensfx/<index>``: the index-th of the 73 recorded clips in OpenTTD's ``opensfx.cat`` (a table of
  ``uint32`` offset/size pairs, offsets flagged with bit 31, each entry a length-prefixed title
  then a 16-bit 44.1 kHz mono RIFF WAV). A clip is test when it shares an original recording (the
  files its title credits: ``"name.wav" by ...``) with a clip of TEST_OPENSFX_CLIPS, so two edits
  of one recording never straddle the split; all other clips are train.
- ``generated/<kind>/<seed>``: noise made here (``generated_noise``): pink, brown, hum (50 Hz and
  its harmonics), babble (4-6 other speakers of the same split summed), bursts (non-stationary
  band-limited noise bursts on a faint pink floor). Seeds >= TEST_SEED_BASE are test, the others
  train; babble of a test seed sums test speakers only (and never the item's own speaker).

Items (``test_items``): item ``i`` is built from ``numpy.random.default_rng([SEED, i])`` alone, so the
first N items are the same whatever the count. Its speech source cycles klettres, fillets, flite
(i mod 3); its noise kind cycles NOISE_KINDS (11 long, 6 of them recorded opensfx clips); its SNR
takes the requested SNRs in a rotating order, ``snrs[(i + i // n) % n]`` for n SNRs, so every
n consecutive items cover every SNR and no source or noise kind sticks to one SNR. The clean
speech: 0.3 s of silence, then whole units of one test speaker (trimmed to 30 ms around the
frames within 40 dB of their loudest 10 ms frame) with 0.1-0.3 s gaps until 3.5-5.5 s (never
past 5.7 s), then 0.3 s of silence: 3-6 s at 48 kHz. The noise: the item's length of a test noise
(an opensfx clip, trimmed the same way, from a random offset and looped with 20 ms crossfades
when shorter). Levels: the speech's active level (RMS over its 10 ms frames within 40 dB of the
loudest; a simple energy gate, not ITU-T P.56) is set to SPEECH_ACTIVE_DBFS, the noise's plain RMS
over the whole item to that level minus the SNR; when the mixture's peak would pass
PEAK_CEILING both are scaled down together. Each item keeps its clean speech (the reference) and
the mixture, both at 48 kHz.
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

from models.speech_floor import floor_removed
from models.speech_sources import HARVARD_SENTENCES, flite_say, read_mono, resample

RATE = 48000
SEED = 20240611
TEST_SEED_BASE = 1_000_000
SPEECH_ACTIVE_DBFS = -26.0
PEAK_CEILING = 0.95
GATE_DB = 40.0  # active frames: within this of the loudest 10 ms frame
FRAME_S = 0.010
EDGE_SILENCE_S = 0.3
GAP_S = (0.1, 0.3)
TARGET_S = (3.5, 5.5)
LONGEST_S = 6.0
LOOP_CROSSFADE_S = 0.020

KLETTRES = Path("/usr/share/klettres")
FILLETS_SOUND = Path("/usr/share/games/fillets-ng/sound")
OPENSFX_CAT = Path("/usr/share/games/openttd/baseset/opensfx/opensfx.cat")

TEST_KLETTRES_LANGUAGES = ("de", "en_GB", "fr", "it", "ru")
TEST_FILLETS_SPEAKERS = ("p",)
TEST_FLITE_VOICES = ("slt",)
FLITE_VOICES = ("awb", "rms", "slt", "kal")
#: helicopter, modern bus start, applause, jackhammer, sawmill, wind, maglev departure, both
#: tropical birds (one recordist's series); the closure over shared originals adds heavy wind
#: and a toyland truck start cut from the same recordings
TEST_OPENSFX_CLIPS = (24, 27, 29, 33, 40, 52, 65, 66, 72)
OPENSFX_SHORTEST_S = 1.0  # shorter clips (beeps, clicks, the two empty ones) are not used as test noise

SPEECH_SOURCES = ("klettres", "fillets", "flite")  # the test items' sources
GCIN_VOICE = Path("/usr/share/gcin-voice/ogg")
GCIN_TAKES = ("3", "5")
GCIN_EVERY = 3
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
ASTERISK_PACKAGES = "asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722 " \
                    "asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722"
#: the voice folders (language_COUNTRY_sex_name) of ASTERISK_PACKAGES
ASTERISK_VOICES = ("en_US_f_Allison", "es_MX_f_Allison", "fr_CA_f_June", "it_IT_m_Carlo", "ru_RU_f_IvrvoiceRU")
ASTERISK_RATE = 16000
ASTERISK_NOT_SPEECH = re.compile(r"(^|/)silence/|tone|beep", re.IGNORECASE)  # tones, beeps and silence
#: Festival voices (name -> Festival's voice name): recordings of real speakers, train only
FESTIVAL_VOICES = {"it_lp": "lp_diphone", "cs_dita": "czech_dita", "ca_ona": "upc_ca_ona_hts"}
NOISE_KINDS = ("opensfx", "pink", "opensfx", "babble", "opensfx", "hum", "opensfx", "bursts", "opensfx",
               "brown", "opensfx")
GENERATED_KINDS = ("pink", "brown", "hum", "babble", "bursts")

TEST_SENTENCE_INDICES = range(20, 40)  # Harvard lists 3 and 4


class Missing(Exception):
    """Material that is not installed; the message names the Debian package."""


# ---- the split --------------------------------------------------------------------------------

def split_of(name: str) -> str:
    """"test", "train" or "neither" for a unit of material named as in the module docstring.
    Raises ValueError for a name of no known source."""
    parts = name.split("/")
    source = parts[0]
    if source == "klettres" and len(parts) >= 3:
        return "test" if parts[1] in TEST_KLETTRES_LANGUAGES else "train"
    if source == "fillets" and len(parts) >= 3:
        if parts[1] != "elk" or parts[2] not in ("l", "p"):
            return "neither"
        return "test" if parts[2] in TEST_FILLETS_SPEAKERS else "train"
    if source == "flite" and len(parts) == 3:
        test_voice = parts[1] in TEST_FLITE_VOICES
        test_text = parts[2].isdigit() and int(parts[2]) in TEST_SENTENCE_INDICES
        if test_voice == test_text:
            return "test" if test_voice else "train"
        return "neither"
    if source == "opensfx" and len(parts) == 2 and parts[1].isdigit():
        return "test" if int(parts[1]) in opensfx_test_indices() else "train"
    if source == "generated" and len(parts) == 3 and parts[1] in GENERATED_KINDS and parts[2].isdigit():
        return "test" if int(parts[2]) >= TEST_SEED_BASE else "train"
    if source == "gcin" and len(parts) == 3 and parts[1] in GCIN_TAKES:
        return "train"
    if source == "festival" and len(parts) == 3 and parts[1] in FESTIVAL_VOICES and parts[2].isdigit():
        return "neither" if int(parts[2]) in TEST_SENTENCE_INDICES else "train"
    if source == "asterisk" and len(parts) >= 3 and parts[1] in ASTERISK_VOICES:
        return "train"
    raise ValueError(f"{name}: not a name of the denoise material "
                     "(klettres/, fillets/, flite/, gcin/, festival/, asterisk/, opensfx/, generated/)")


def speaker_of(name: str) -> str:
    """The speaker of a speech unit: "klettres/de", "fillets/elk/p", "flite/slt"."""
    parts = name.split("/")
    return "/".join(parts[:3] if parts[0] == "fillets" else parts[:2])


# ---- audio helpers ----------------------------------------------------------------------------

def frame_energies(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    frame = int(FRAME_S * rate)
    count = max(len(audio) // frame, 1)
    frames = np.resize(audio, count * frame).reshape(count, frame) if len(audio) >= frame else audio[None]
    return np.mean(np.square(frames), axis=1)


def active_rms(audio: np.ndarray, rate: int = RATE) -> float:
    """RMS over the 10 ms frames within GATE_DB of the loudest one (a simple speech level)."""
    energies = frame_energies(audio, rate)
    active = energies[energies >= energies.max() * 10 ** (-GATE_DB / 10)]
    return float(np.sqrt(np.mean(active))) if len(active) else 0.0


def si_sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio (dB) of ``estimate`` against ``reference`` (zero-mean)."""
    reference, estimate = reference - reference.mean(), estimate - estimate.mean()
    target = reference * (np.dot(estimate, reference) / max(np.dot(reference, reference), 1e-20))
    return float(10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.sum((estimate - target) ** 2), 1e-20)))


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio))))


def trim_span(audio: np.ndarray, rate: int = RATE, margin_s: float = 0.030) -> slice:
    """From ``audio``'s first to its last 10 ms frame within GATE_DB of the loudest, plus margins."""
    energies = frame_energies(audio, rate)
    loud = np.flatnonzero(energies >= energies.max() * 10 ** (-GATE_DB / 10))
    if not len(loud):
        return slice(0, len(audio))
    frame, margin = int(FRAME_S * rate), int(margin_s * rate)
    return slice(max(loud[0] * frame - margin, 0), min((loud[-1] + 1) * frame + margin, len(audio)))


def trimmed(audio: np.ndarray, rate: int = RATE, margin_s: float = 0.030) -> np.ndarray:
    """``audio`` cut to its first and last 10 ms frame within GATE_DB of the loudest, plus margins."""
    return audio[trim_span(audio, rate, margin_s)]


def unit_of(recording: np.ndarray, without_floor: bool = False) -> np.ndarray:
    """A speech unit: ``recording`` trimmed; with ``without_floor``, a (2, n) array whose second
    row is the same span of the recording with its own steady background taken out
    (``models.speech_floor``, estimated on the whole recording): a training target."""
    span = trim_span(recording)
    if not without_floor:
        return recording[span]
    return np.stack([recording[span], floor_removed(recording)[span]])


def looped(audio: np.ndarray, length: int, start: int, rate: int = RATE) -> np.ndarray:
    """``length`` samples of ``audio`` from ``start``, looped with LOOP_CROSSFADE_S crossfades."""
    fade = min(int(LOOP_CROSSFADE_S * rate), len(audio) // 4)
    out = audio[start:].copy()
    ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
    while len(out) < length:
        if fade:
            out[-fade:] = out[-fade:] * (1.0 - ramp) + audio[:fade] * ramp
        out = np.concatenate([out, audio[fade:]])
    return out[:length]


# ---- speech -----------------------------------------------------------------------------------

def klettres_units(languages: Sequence[str], without_floor: bool = False) -> dict[str, np.ndarray]:
    if not KLETTRES.is_dir():
        raise Missing(f"{KLETTRES}: not installed (apt-get install klettres-data)")
    units = {}
    for language in languages:
        for path in sorted((KLETTRES / language).glob("*/*.ogg")):
            units[f"klettres/{language}/{path.parent.name}/{path.stem}"] = unit_of(read_mono(str(path)), without_floor)
    return units


def fillets_units(speakers: Sequence[str], without_floor: bool = False) -> dict[str, np.ndarray]:
    folders = sorted(FILLETS_SOUND.glob("elk/*"))
    if not folders:
        raise Missing(f"{FILLETS_SOUND}/elk: not installed (apt-get install fillets-ng-data)")
    units = {}
    for folder in folders:
        for speaker in speakers:
            for path in sorted(folder.glob(f"deu-{speaker}-*.ogg")):
                units[f"fillets/elk/{speaker}/{path.stem}"] = unit_of(read_mono(str(path)), without_floor)
    return units


def flite_units(voices: Sequence[str], indices: Sequence[int], without_floor: bool = False) -> dict[str, np.ndarray]:
    """flite reading HARVARD_SENTENCES[indices] in each voice (into a temporary folder)."""
    if shutil.which("flite") is None:
        raise Missing("flite: not installed (apt-get install flite)")
    units = {}
    with tempfile.TemporaryDirectory(prefix="stylerack-denoise-") as folder:
        for voice in voices:
            for index in indices:
                path = Path(folder) / f"{voice}-{index}.wav"
                flite_say(voice, HARVARD_SENTENCES[index], path)
                units[f"flite/{voice}/{index:02d}"] = unit_of(read_mono(str(path)), without_floor)
    return units


def gcin_units(without_floor: bool = False) -> dict[str, np.ndarray]:
    if not GCIN_VOICE.is_dir():
        raise Missing(f"{GCIN_VOICE}: not installed (apt-get install gcin-voice)")
    units = {}
    for folder in sorted(GCIN_VOICE.iterdir())[::GCIN_EVERY]:
        for take in GCIN_TAKES:
            path = folder / f"{take}.ogg"
            if path.is_file():
                units[f"gcin/{take}/{folder.name}"] = unit_of(read_mono(str(path)), without_floor)
    return units


def festival_units(indices: Sequence[int], without_floor: bool = False) -> dict[str, np.ndarray]:
    """Each FESTIVAL_VOICES voice reading HARVARD_SENTENCES[indices] (into a temporary folder)."""
    text2wave = shutil.which("text2wave")
    if text2wave is None:
        raise Missing("text2wave: not installed (apt-get install festival festvox-italp16k festvox-czech-dita "
                      "festvox-ca-ona-hts)")
    units = {}
    with tempfile.TemporaryDirectory(prefix="stylerack-denoise-") as folder:
        for name, voice in FESTIVAL_VOICES.items():
            # the voice must be the one that speaks: were it missing, Festival would fall back on
            # its default voice, which may be a test speaker (slt)
            check = f"(begin (voice_{voice}) (if (not (equal? current-voice '{voice})) (error \"not {voice}\")))"
            for index in indices:
                text, path = Path(folder) / f"{name}-{index}.txt", Path(folder) / f"{name}-{index}.wav"
                text.write_text(HARVARD_SENTENCES[index] + "\n")
                result = subprocess.run([text2wave, "-eval", check, "-o", str(path), str(text)],
                                        capture_output=True, text=True)
                if result.returncode != 0 or "error" in result.stderr.lower() or not path.is_file():
                    raise Missing(f"festival voice {voice}: failed ({result.stderr.strip()[-200:]}); "
                                  "apt-get install festival festvox-italp16k festvox-czech-dita festvox-ca-ona-hts")
                units[f"festival/{name}/{index:02d}"] = unit_of(read_mono(str(path)), without_floor)
    return units


def g722_decoded(path: Path) -> np.ndarray:
    """A G.722 file (64 kbit/s, 16 kHz) as mono float64 at RATE."""
    try:
        from G722 import G722
    except ImportError as error:
        raise Missing(f"{path}: decoding G.722 needs the G722 package (pip install G722)") from error
    pcm = np.asarray(G722(ASTERISK_RATE, 64000).decode(path.read_bytes()), dtype=np.float64) / 32768.0
    return resample(pcm, ASTERISK_RATE, RATE)


def asterisk_units(voices: Sequence[str] = ASTERISK_VOICES, without_floor: bool = False) -> dict[str, np.ndarray]:
    """Asterisk's spoken prompts in each of ``voices`` (tones, beeps and silences left out)."""
    units = {}
    for voice in voices:
        folder = ASTERISK_SOUNDS / voice
        if not folder.is_dir():
            raise Missing(f"{folder}: not installed (apt-get install {ASTERISK_PACKAGES})")
        for path in sorted(folder.rglob("*.g722")):
            relative = path.relative_to(folder).with_suffix("").as_posix()
            if ASTERISK_NOT_SPEECH.search(relative):
                continue
            audio = g722_decoded(path)
            if len(audio) >= int(0.2 * RATE) and np.abs(audio).max() > 1e-3:
                units[f"asterisk/{voice}/{relative}"] = unit_of(audio, without_floor)
    return units


def speech_units(split: str, without_floor: bool = False, continuous: bool = False) -> dict[str, np.ndarray]:
    """Every speech unit of ``split`` ("test" or "train"), name -> trimmed mono float64 at 48 kHz
    (with ``without_floor``, a (2, n) array: as recorded, and without its background; ``unit_of``);
    ``continuous``: the train split with Asterisk's prompts too."""
    if split == "test":
        languages, speakers, voices, indices = TEST_KLETTRES_LANGUAGES, TEST_FILLETS_SPEAKERS, TEST_FLITE_VOICES, \
            TEST_SENTENCE_INDICES
    else:
        languages = sorted(p.name for p in KLETTRES.glob("*") if p.is_dir() and any(p.glob("*/*.ogg"))
                           and p.name not in TEST_KLETTRES_LANGUAGES)
        speakers = tuple(s for s in ("l", "p") if s not in TEST_FILLETS_SPEAKERS)
        voices = tuple(v for v in FLITE_VOICES if v not in TEST_FLITE_VOICES)
        indices = [i for i in range(len(HARVARD_SENTENCES)) if i not in TEST_SENTENCE_INDICES]
    units = {**klettres_units(languages, without_floor), **fillets_units(speakers, without_floor),
             **flite_units(voices, indices, without_floor)}
    if split == "train":
        units.update({**gcin_units(without_floor), **festival_units(indices, without_floor)})
        if continuous:
            units.update(asterisk_units(ASTERISK_VOICES, without_floor))
    assert all(split_of(name) == split for name in units), "the loaders and split_of disagree"
    return units


# ---- noise ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpensfxClip:
    index: int
    title: str  # the credit line stored with the clip
    originals: tuple[str, ...]  # the recordings it was cut from ("name.wav", ...), or its own title
    audio: np.ndarray  # mono float64 at 48 kHz (untrimmed)


AUDIO_SUFFIXES = (".wav", ".mp3", ".aif", ".aiff", ".flac", ".ogg")


def originals_of(title: str) -> tuple[str, ...]:
    """The recordings a clip's credit line names: quoted names followed by " by" or ending like
    an audio file, after the clip's own quoted title; the title itself when it names none."""
    own, _, credits = title.partition('". ')
    named = [m[0] for m in re.findall(r'"([^"]+)"( by)?', credits)
             if m[1] or m[0].lower().endswith(AUDIO_SUFFIXES)]
    return tuple(named) or (own.strip('"'),)


@cache
def opensfx_clips() -> tuple[OpensfxClip, ...]:
    """The 73 clips of ``opensfx.cat``, in the file's order."""
    if not OPENSFX_CAT.is_file():
        raise Missing(f"{OPENSFX_CAT}: not installed (apt-get install openttd-opensfx)")
    data = OPENSFX_CAT.read_bytes()
    count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
    clips = []
    for index in range(count):
        offset, size = struct.unpack_from("<II", data, 8 * index)
        offset &= 0x7FFFFFFF
        title_length = data[offset]
        title = data[offset + 1: offset + 1 + title_length].rstrip(b"\0").decode("utf-8", "replace")
        wav = data[offset + 1 + title_length: offset + 1 + title_length + size]
        try:
            audio = read_mono(io.BytesIO(wav))
        except sf.LibsndfileError:  # the two "Unused/Nothing" entries hold a header and no samples
            audio = np.zeros(0)
        clips.append(OpensfxClip(index, title, originals_of(title), audio))
    return tuple(clips)


@cache
def opensfx_test_indices() -> frozenset[int]:
    """TEST_OPENSFX_CLIPS and every clip sharing an original recording with one of them."""
    clips = opensfx_clips()
    test_originals = {o for i in TEST_OPENSFX_CLIPS for o in clips[i].originals}
    return frozenset(c.index for c in clips if test_originals & set(c.originals))


def colored_noise(length: int, exponent: float, rng: np.random.Generator, low_hz: float = 20.0) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (1 pink, 2 brown), nothing below ``low_hz``,
    unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    hz = np.fft.rfftfreq(length, 1 / RATE)
    spectrum[hz < low_hz] = 0.0
    spectrum[hz >= low_hz] /= hz[hz >= low_hz] ** (exponent / 2)
    noise = np.fft.irfft(spectrum, length)
    return noise / max(rms(noise), 1e-12)


def hum(length: int, rng: np.random.Generator, mains_hz: float = 50.0) -> np.ndarray:
    """Mains hum: ``mains_hz`` and its harmonics to 4 kHz, amplitudes 1/k**(0.7..1.5) with the odd
    ones boosted by a random 0-6 dB (a buzz), random phases, a slow 0.2-1 Hz wobble of 5-20%."""
    t = np.arange(length) / RATE
    slope, odd_boost = rng.uniform(0.7, 1.5), 10 ** (rng.uniform(0, 6) / 20)
    out = np.zeros(length)
    for k in range(1, int(4000 // mains_hz) + 1):
        gain = k ** -slope * (odd_boost if k % 2 else 1.0)
        out += gain * np.sin(2 * np.pi * mains_hz * k * t + rng.uniform(0, 2 * np.pi))
    out *= 1.0 + rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
    return out / rms(out)


def bursts(length: int, rng: np.random.Generator) -> np.ndarray:
    """Non-stationary noise: bursts (about 2 a second, 30-400 ms, 2 ms attack, exponential decay,
    levels within 18 dB) of noise band-passed to a random octave-or-wider band, on a pink floor
    30 dB below the bursts' typical level."""
    from scipy.signal import butter, sosfilt

    out = 0.03 * colored_noise(length, 1.0, rng)
    time_s = rng.exponential(0.5)
    while time_s * RATE < length:
        start, duration = int(time_s * RATE), int(rng.uniform(0.03, 0.4) * RATE)
        low = rng.uniform(100, 4000)
        high = min(low * rng.uniform(2, 8), 0.45 * RATE)
        burst = sosfilt(butter(2, [low, high], "bandpass", fs=RATE, output="sos"), rng.standard_normal(duration))
        envelope = np.minimum(np.arange(duration) / (0.002 * RATE), 1.0) * np.exp(
            -np.arange(duration) / (duration / rng.uniform(2, 5)))
        end = min(start + duration, length)
        out[start:end] += (10 ** (rng.uniform(-18, 0) / 20) * burst * envelope / max(rms(burst), 1e-12))[: end - start]
        time_s += rng.exponential(0.5)
    return out / rms(out)


def babble(length: int, rng: np.random.Generator, speakers: dict[str, list[np.ndarray]]) -> np.ndarray:
    """4-6 of ``speakers`` (speaker -> units) talking at once, each a random run of its units
    (0.05-0.2 s gaps) at one active level."""
    names = sorted(speakers)
    chosen = rng.choice(len(names), size=min(len(names), int(rng.integers(4, 7))), replace=False)
    out = np.zeros(length)
    for pick in chosen:
        units = speakers[names[pick]]
        talk = [np.zeros(int(rng.uniform(0, 1.0) * RATE))]
        while sum(map(len, talk)) < length:
            unit = units[int(rng.integers(len(units)))]
            talk += [unit / max(active_rms(unit), 1e-9), np.zeros(int(rng.uniform(0.05, 0.2) * RATE))]
        out += np.concatenate(talk)[:length]
    return out / rms(out)


def generated_noise(kind: str, seed: int, length: int, speakers: dict[str, list[np.ndarray]] | None = None
                    ) -> np.ndarray:
    """``length`` samples (48 kHz, unit RMS) of the generated noise ``generated/<kind>/<seed>``;
    babble needs ``speakers`` (speaker -> speech units) from the seed's own split."""
    rng = np.random.default_rng([SEED, seed, GENERATED_KINDS.index(kind)])
    if kind == "pink":
        return colored_noise(length, 1.0, rng)
    if kind == "brown":
        return colored_noise(length, 2.0, rng)
    if kind == "hum":
        return hum(length, rng)
    if kind == "bursts":
        return bursts(length, rng)
    if kind == "babble":
        if not speakers:
            raise ValueError("babble needs speakers")
        return babble(length, rng, speakers)
    raise ValueError(f"unknown generated noise kind '{kind}'")


# ---- items ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    name: str  # "test/003"
    speech: tuple[str, ...]  # the units spoken, in order
    speaker: str
    source: str  # klettres, fillets or flite
    noise: str  # "opensfx/29" or "generated/pink/1000003"
    noise_kind: str  # opensfx, pink, brown, hum, babble, bursts
    snr_db: float
    clean: np.ndarray = field(repr=False)  # 48 kHz float64, the reference
    noisy: np.ndarray = field(repr=False)  # 48 kHz float64, clean + noise


@dataclass
class TestMaterial:
    """The test split's speech (by speaker) and noise clips, loaded once."""

    units: dict[str, np.ndarray]
    by_speaker: dict[str, list[str]]
    noise_clips: list[OpensfxClip]

    @classmethod
    def load(cls) -> TestMaterial:
        units = speech_units("test")
        by_speaker: dict[str, list[str]] = {}
        for name in units:
            by_speaker.setdefault(speaker_of(name), []).append(name)
        clips = [c for c in opensfx_clips() if split_of(f"opensfx/{c.index}") == "test"
                 and len(trimmed(c.audio)) >= OPENSFX_SHORTEST_S * RATE]
        return cls(units, by_speaker, clips)

    def speakers_of(self, source: str) -> list[str]:
        return sorted(s for s in self.by_speaker if s.split("/")[0] == source)


def speech_run(material: TestMaterial, speaker: str, rng: np.random.Generator) -> tuple[np.ndarray, tuple[str, ...]]:
    """EDGE_SILENCE_S, whole units of ``speaker`` with gaps until TARGET_S (never past LONGEST_S less
    the closing silence), EDGE_SILENCE_S: the clean speech and the units' names."""
    target, room = rng.uniform(*TARGET_S) * RATE, (LONGEST_S - EDGE_SILENCE_S) * RATE
    pool = list(rng.permutation(material.by_speaker[speaker]))
    parts, names, length = [np.zeros(int(EDGE_SILENCE_S * RATE))], [], int(EDGE_SILENCE_S * RATE)
    while length < target and pool:
        name = str(pool.pop())
        unit = material.units[name]
        gap = np.zeros(int(rng.uniform(*GAP_S) * RATE)) if names else np.zeros(0)
        if length + len(gap) + len(unit) > room:
            continue
        parts += [gap, unit]
        names.append(name)
        length += len(gap) + len(unit)
    parts.append(np.zeros(int(EDGE_SILENCE_S * RATE)))
    return np.concatenate(parts), tuple(names)


def item_snr(index: int, snrs: Sequence[float]) -> float:
    n = len(snrs)
    return float(snrs[(index + index // n) % n])


def make_item(material: TestMaterial, index: int, snrs: Sequence[float]) -> Item:
    rng = np.random.default_rng([SEED, index])
    source = SPEECH_SOURCES[index % len(SPEECH_SOURCES)]
    speakers = material.speakers_of(source)
    speaker = speakers[int(rng.integers(len(speakers)))]
    clean, names = speech_run(material, speaker, rng)
    kind = NOISE_KINDS[index % len(NOISE_KINDS)]
    if kind == "opensfx":
        clip = material.noise_clips[int(rng.integers(len(material.noise_clips)))]
        audio = trimmed(clip.audio)
        noise = looped(audio, len(clean), int(rng.integers(len(audio) // 2)))
        noise_name = f"opensfx/{clip.index}"
    else:
        seed = TEST_SEED_BASE + index
        others = {s: [material.units[n] for n in units] for s, units in material.by_speaker.items() if s != speaker}
        noise = generated_noise(kind, seed, len(clean), others)
        noise_name = f"generated/{kind}/{seed}"
    snr_db = item_snr(index, snrs)
    clean = clean * (10 ** (SPEECH_ACTIVE_DBFS / 20) / active_rms(clean))
    noise = noise * (10 ** ((SPEECH_ACTIVE_DBFS - snr_db) / 20) / max(rms(noise), 1e-12))
    noisy = clean + noise
    gain = min(1.0, PEAK_CEILING / float(np.abs(noisy).max()))
    assert split_of(noise_name) == "test" and all(split_of(n) == "test" for n in names)
    return Item(f"test/{index:03d}", names, speaker, source, noise_name, kind, snr_db, clean * gain, noisy * gain)


def test_items(count: int, snrs: Sequence[float], material: TestMaterial | None = None) -> list[Item]:
    """The first ``count`` held-out test items (see the module docstring)."""
    material = material or TestMaterial.load()
    return [make_item(material, index, snrs) for index in range(count)]


