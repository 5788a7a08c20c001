"""The engine's promises: streaming equals one call, honest latency, aligned dry/wet,
safe output, allocation-free callback, click-free switching."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from realtime.engine import CONCEAL_SECONDS, Engine, EngineConfig
from realtime.engine.runner import StyleRunner
from realtime.format.style import load_style
from tests.conftest import make_engine, noise, stream

BLOCKS = [1, 2, 63, 64, 128, 441, 1000, 4096]
MODES = ["direct", "buffered"]


def one_call(style_path, signal: np.ndarray, params=()) -> np.ndarray:
    """The style run once on the whole signal (no engine): [frames, channels]."""
    runner = StyleRunner(load_style(style_path), max_frames=signal.shape[0])
    if params:
        runner.set_params(params)
    runner.input_view(signal.shape[0])[...] = signal.T
    return runner.run(signal.shape[0]).T.copy()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("block", BLOCKS)
def test_streaming_equals_one_call(styles_dir, mode, block):
    signal = noise(12000, seed=block)
    for name in ("delay37", "multiple4"):
        engine = make_engine(styles_dir / f"{name}.onnx", block, mode)
        out = stream(engine, signal, block)
        engine.stop()
        latency = engine.latency.total_frames
        reference = one_call(styles_dir / f"{name}.onnx", signal)
        style_latency = round(engine.latency.style_frames)
        # the engine adds buffering on top of the style's own delay; remove it and compare
        buffering = latency - style_latency
        assert engine.stats.late_blocks == 0
        assert np.abs(out[buffering:, 0] - reference[: len(signal) - buffering, 0]).max() < 1e-6, name


@pytest.mark.parametrize(
    "style, mode, rate",
    [("delay37", "direct", 48000), ("delay37", "buffered", 48000), ("multiple4", "direct", 48000),
     ("delay5_44k", "direct", 48000), ("delay5_44k", "buffered", 48000), ("delay37", "direct", 44100)],
)
def test_impulse_latency_equals_reported(styles_dir, style, mode, rate):
    block = 128 if style != "multiple4" else 441
    engine = make_engine(styles_dir / f"{style}.onnx", block, mode, rate=rate)
    signal = np.zeros((rate, 1), np.float32)
    signal[3000] = 1.0
    out = stream(engine, signal, block)
    engine.stop()
    reported = engine.latency.total_frames
    measured = int(np.argmax(np.abs(out[:, 0]))) - 3000
    assert measured == reported, (measured, engine.latency)
    if engine.latency.style_frames != round(engine.latency.style_frames) or rate != 48000:
        # resampling is part of what is reported: its filters' delay and any buffering for its bursts
        assert engine.latency.buffering_frames + engine.latency.resampling_frames > 0


@pytest.mark.parametrize("mode", MODES)
def test_half_mix_of_a_delay_style_is_a_pure_delay(styles_dir, mode):
    engine = make_engine(styles_dir / "delay37.onnx", 128, mode)
    engine.set_mix(0.5)
    engine.jump_to_targets()
    signal = noise(9600)
    out = stream(engine, signal, 128)
    engine.stop()
    latency = engine.latency.total_frames
    assert np.abs(out[latency:, 0] - signal[: len(signal) - latency, 0]).max() < 1e-6
    assert np.abs(out[:latency]).max() == 0.0


def test_zero_mix_is_the_input(styles_dir):
    engine = make_engine(styles_dir / "gain.onnx", 128)
    engine.set_param("gain", 12.0)
    engine.set_mix(0.0)
    engine.jump_to_targets()
    signal = noise(4800)
    out = stream(engine, signal, 128)
    assert engine.latency.total_frames == 0
    assert np.array_equal(out, signal)


def test_mix_changes_are_smoothed(styles_dir):
    engine = make_engine(styles_dir / "gain.onnx", 64)
    engine.set_param("gain", 24.0)
    steady = np.full((64, 1), 0.01, np.float32)
    out = np.zeros_like(steady)
    engine.process(steady, out)
    engine.set_mix(0.0)
    outputs = []
    for _ in range(200):  # 267 ms: many time constants
        engine.process(steady, out)
        outputs.append(out[:, 0].copy())
    trace = np.concatenate(outputs)
    assert trace[0] > 0.1 and abs(trace[-1] - 0.01) < 1e-6  # from wet (+24 dB) to dry
    assert np.abs(np.diff(trace)).max() < 0.01  # no jump: spread over many samples


@pytest.mark.parametrize("mode", MODES)
def test_callback_allocates_no_block_sized_arrays(styles_dir, mode):
    block = 4096
    engine = make_engine(styles_dir / "delay37.onnx", block, mode)
    engine.set_mix(0.5)
    signal = noise(block)
    out = np.zeros_like(signal)
    for _ in range(20):
        engine.process(signal, out)
        if engine.worker:
            engine.worker.drain()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(50):
            engine.process(signal, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        engine.stop()
    block_bytes = block * 4  # tracemalloc sees every thread: the worker's small objects count too
    assert peak - base < block_bytes // 2, f"callback path allocated {peak - base} bytes (block is {block_bytes})"


@pytest.mark.parametrize("mode", MODES)
def test_hostile_input_gives_safe_output(styles_dir, mode):
    engine = make_engine(styles_dir / "gain.onnx", 128, mode)
    engine.set_param("gain", 6.0)
    signal = noise(48000, level=0.4)
    signal[1000:1100] = np.nan
    signal[2000:2050] = np.inf
    signal[2050:2100] = -np.inf
    signal[10000:20000] *= 1e5  # +100 dBFS
    out = stream(engine, signal, 128)
    engine.stop()
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= 1.0
    assert engine.stats.non_finite_inputs == 200
    quiet = signal[30000:31000] * 10 ** (6 / 20)
    assert np.abs(quiet).max() < 0.891  # below the limiter's knee it is transparent:
    latency = engine.latency.total_frames
    assert np.allclose(out[30000 + latency : 31000 + latency], quiet, atol=1e-5)


def test_a_style_that_emits_nan_is_reset_and_counted(styles_dir):
    engine = make_engine(styles_dir / "nan_after.onnx", 128)
    signal = noise(48000)
    out = stream(engine, signal, 128)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    resets = engine.current.chain.non_finite_resets
    assert resets >= 10  # resets every ~3000 frames
    # until the first fault the style plays normally (the faulty block itself is silenced)
    assert np.allclose(out[:2944], signal[:2944])
    assert np.abs(out[2944:3072]).max() == 0.0


def test_switching_styles_is_click_free_and_keeps_playing(styles_dir):
    rate, block = 48000, 128
    engine = make_engine(styles_dir / "identity.onnx", block)
    t = np.arange(rate) / rate
    sine = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None]
    out = np.zeros_like(sine)
    switched = False
    for start in range(0, rate, block):
        if start >= 9600 and not switched:
            engine.set_style(engine.prepare(styles_dir / "delay37.onnx"))
            switched = True
        engine.process(sine[start : start + block], out[start : start + block])
    own_step = np.abs(np.diff(sine[:, 0])).max()
    assert np.abs(np.diff(out[:, 0])).max() <= own_step * 1.05
    assert engine.current.name == "delay37"
    tail = out[-4800:, 0]
    assert np.abs(tail - sine[-4800 - 37 : -37, 0]).max() < 1e-6


def test_a_refused_style_leaves_the_old_one_playing(styles_dir, tmp_path):
    engine = make_engine(styles_dir / "delay5.onnx", 128)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 10)
    from realtime.errors import StyleRackError

    with pytest.raises(StyleRackError):
        engine.load(bad)
    signal = noise(2048)
    out = stream(engine, signal, 128)
    assert engine.current.name == "delay5"
    assert np.allclose(out[5:, 0], signal[:-5, 0])


def test_mono_style_on_stereo_device_downmixes_and_duplicates(styles_dir):
    engine = make_engine(styles_dir / "delay5.onnx", 64, channels=2)
    signal = noise(1024, channels=2)
    out = stream(engine, signal, 64)
    mono = signal.mean(axis=1)
    assert np.allclose(out[5:, 0], mono[:-5], atol=1e-6) and np.allclose(out[:, 0], out[:, 1], atol=1e-6)


def test_late_worker_fades_to_aligned_dry(styles_dir):
    engine = make_engine(styles_dir / "gain.onnx", 128, "buffered", margin_blocks=1)
    engine.set_param("gain", 6.0)
    engine.worker.stop()  # a worker that never delivers
    signal = noise(1280)
    out = stream(engine, signal, 128, drain=False)
    latency, fade = engine.latency.total_frames, round(CONCEAL_SECONDS * 48000)
    assert engine.stats.late_blocks >= 8
    # after a fade of a few ms: the dry, aligned with where the wet would be
    assert np.allclose(out[latency + fade :, 0], signal[fade:-latency, 0])
    ramp = out[latency : latency + fade, 0] / signal[:fade, 0]  # the wet heard last was silence
    assert np.all(np.diff(ramp) > 0) and 0 < ramp[0] < 0.05 and ramp[-1] > 0.95


def test_late_wet_is_crossfaded_out_and_back_in_never_switched(styles_dir):
    """A worker that stalls for 10 blocks and comes back: the wet (+6 dB) fades to the aligned
    dry and back within a few ms each way, so the output never jumps; it is counted."""
    block, rate = 128, 48000
    engine = make_engine(styles_dir / "gain.onnx", block, "buffered", margin_blocks=1)
    engine.set_param("gain", 6.0)
    t = np.arange(60 * block) / rate
    sine = (0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None]
    out = np.zeros_like(sine)
    for index, start in enumerate(range(0, len(sine), block)):
        if index == 20:
            engine.worker.stop()
        if index == 30:
            engine.worker.start()
        engine.process(sine[start : start + block], out[start : start + block])
        if not 20 <= index < 30:
            engine.worker.drain()
    engine.stop()
    latency, fade = engine.latency.total_frames, round(CONCEAL_SECONDS * rate)
    assert 9 <= engine.stats.late_blocks <= 11
    wet_step = np.abs(np.diff(2 * sine[:, 0])).max()
    steps = np.abs(np.diff(out[latency:, 0]))
    assert steps.max() < wet_step + 2 * 0.4 / fade  # a hard switch would jump by up to 0.4
    dry_part = out[21 * block + fade + block : 30 * block, 0]  # after the fade, while late
    assert np.allclose(dry_part, sine[21 * block + fade + block - latency : 30 * block - latency, 0], atol=1e-6)
    assert np.allclose(out[-10 * block :, 0], 10 ** (6 / 20) * sine[-10 * block - latency : -latency, 0], atol=1e-5)


def test_config_refuses_bad_values():
    from realtime.errors import ConfigError

    with pytest.raises(ConfigError, match="block size 0"):
        EngineConfig(sample_rate=48000, block_frames=0)
    with pytest.raises(ConfigError, match="mode 'fast'"):
        EngineConfig(sample_rate=48000, block_frames=64, mode="fast")


def test_engine_without_style_passes_dry():
    engine = Engine(EngineConfig(sample_rate=48000, block_frames=32))
    signal = noise(320)
    assert np.array_equal(stream(engine, signal, 32), signal)
