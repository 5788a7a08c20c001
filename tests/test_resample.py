"""The low-latency resampler: exact streaming, honest latency through the engine, quality
against the issue's limits (with margins), and no allocation in the callback path."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from realtime.engine import Engine, EngineConfig
from realtime.engine.resample import NativeResampler, prototype_taps
from realtime.offline import resample_quality as rq
from tests.conftest import make_engine, noise, stream

PAIRS = [(48000, 44100), (44100, 48000), (48000, 96000), (96000, 44100), (48000, 16000), (32000, 48000)]


@pytest.mark.parametrize("in_rate, out_rate", PAIRS)
def test_streaming_equals_one_call(in_rate, out_rate):
    signal = noise(20000, seed=3)[:, 0]
    taps = prototype_taps(in_rate, out_rate)
    whole = NativeResampler(in_rate, out_rate, 1, 20000, taps).process(signal[None, :])[0].copy()
    for block in (1, 7, 128, 441, 4096):
        resampler = NativeResampler(in_rate, out_rate, 1, 4096, taps)
        pieces = [resampler.process(signal[None, s : s + block])[0].copy() for s in range(0, len(signal), block)]
        streamed = np.concatenate(pieces)
        assert len(streamed) == len(whole) == -(-len(signal) * out_rate // in_rate)
        assert np.array_equal(streamed, whole), block


def test_round_trip_delay_is_the_reported_whole_frames():
    """An impulse through 48 -> 44.1 -> 48 kHz comes out exactly (taps - 1) / 147 device frames
    later: 83 frames, 1.73 ms."""
    taps = prototype_taps(48000, 44100)
    down = NativeResampler(48000, 44100, 1, 8192, taps)
    up = NativeResampler(44100, 48000, 1, 8192, taps)
    signal = np.zeros(8000, np.float32)
    signal[1000] = 1.0
    out = up.process(np.array(down.process(signal[None, :]))).ravel()
    delay = (taps - 1) // 147
    assert delay == 83 and 1000 * delay / 48000 < 2.0
    assert int(np.argmax(out)) - 1000 == delay
    # linear phase: the response is symmetric about its peak
    peak = 1000 + delay
    assert np.abs(out[peak - 60 : peak] - out[peak + 60 : peak : -1]).max() < 1e-4


@pytest.mark.parametrize("mode", ["direct", "buffered"])
@pytest.mark.parametrize("block", [1, 64, 128, 441, 4096])
@pytest.mark.parametrize("style, rate", [("delay5_44k", 48000), ("delay37", 44100)])
def test_impulse_latency_equals_reported_with_resampling(styles_dir, mode, block, style, rate):
    engine = make_engine(styles_dir / f"{style}.onnx", block, mode, rate=rate)
    signal = np.zeros((rate, 1), np.float32)
    signal[5000] = 1.0
    out = stream(engine, signal, block)
    engine.stop()
    latency = engine.latency
    assert int(np.argmax(np.abs(out[:, 0]))) - 5000 == latency.total_frames, latency
    added = latency.total_frames - round(latency.style_frames) - latency.worker_frames
    assert 1000 * added / rate <= 2.0, latency  # the resampler's round trip plus its buffering
    assert latency.resampling_frames > 0


def test_the_limits_hold_with_margins():
    q = rq.measure("low-latency")
    assert q.passband_ripple_db <= 0.1 * 0.5, q  # flat within +-0.1 dB to 18 kHz (half of it used)
    assert q.aliasing_db <= -90 - 3, q
    assert q.spurious_db <= -90 - 3, q
    assert q.round_trip_thdn_db <= -90 - 3, q


def test_the_callback_path_allocates_nothing_with_resampling(styles_dir):
    engine = make_engine(styles_dir / "delay5_44k.onnx", 128, "direct", rate=48000)
    block = noise(128, seed=1)
    out = np.zeros_like(block)
    for _ in range(50):
        engine.process(block, out)
    tracemalloc.start()
    tracemalloc.reset_peak()
    for _ in range(200):
        engine.process(block, out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4096, peak


def test_soxr_hq_stays_available(styles_dir):
    engine = Engine(EngineConfig(sample_rate=48000, block_frames=128, resampler="soxr-hq"))
    engine.load(styles_dir / "delay5_44k.onnx")
    latency = engine.latency
    assert latency.resampling_frames == 0 and latency.buffering_frames > 1000  # its bursts, as measured before
