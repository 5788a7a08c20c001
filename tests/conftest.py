from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime.engine import Engine, EngineConfig
from tests import style_builders as sb


@pytest.fixture(scope="session")
def styles_dir(tmp_path_factory) -> Path:
    """Tiny hand-built styles: identity, delay (5 and 37 samples), gain knob, block-multiple 4,
    a -6 dB gain, a stereo delay, a 44.1 kHz identity, one that emits NaN, a 100-sample delay
    and delays with gains (37 samples at 0.5, 100 at 0.25) for the rack's exact weights."""
    folder = tmp_path_factory.mktemp("styles")
    sb.make_identity(folder / "identity.onnx")
    sb.make_delay(folder / "delay5.onnx", 5)
    sb.make_delay(folder / "delay37.onnx", 37)
    sb.make_delay(folder / "stereo_delay.onnx", 11, channels=2)
    sb.make_gain(folder / "gain.onnx")
    sb.make_gain(folder / "quieter.onnx", default_db=-6.0)
    sb.make_identity(folder / "multiple4.onnx", block_multiple=4)
    sb.make_delay(folder / "delay5_44k.onnx", 5, sample_rate=44100)
    sb.make_nan_after(folder / "nan_after.onnx", good_frames=3000)
    sb.make_delay(folder / "delay100.onnx", 100)
    sb.make_delay(folder / "half37.onnx", 37, gain=0.5)
    sb.make_delay(folder / "quarter100.onnx", 100, gain=0.25)
    return folder


def stream(engine: Engine, signal: np.ndarray, block: int, drain: bool = True) -> np.ndarray:
    """Feed ``signal: [frames, channels]`` through ``engine`` in blocks; returns the output."""
    out = np.zeros((signal.shape[0], engine.config.out_channels), np.float32)
    for start in range(0, signal.shape[0], block):
        chunk = signal[start : start + block]
        engine.process(chunk, out[start : start + len(chunk)])
        if drain and engine.worker is not None:
            engine.worker.drain()
    return out


def make_engine(style_path, block: int, mode: str = "direct", rate: int = 48000, channels: int = 1, **kw) -> Engine:
    config = EngineConfig(
        sample_rate=rate, block_frames=block, in_channels=channels, out_channels=channels, mode=mode, **kw
    )
    engine = Engine(config)
    engine.load(style_path)
    engine.jump_to_targets()
    engine.start()
    return engine


def noise(frames: int, channels: int = 1, seed: int = 0, level: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(-level, level, (frames, channels))).astype(np.float32)
