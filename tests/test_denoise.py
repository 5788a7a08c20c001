"""The speech-denoise style (models/denoise.py, shipped in realtime/styles): streaming equals one
call, the declared latency, silence, clean speech kept, noise removed from held-out package
audio, the strength knob, and the benchmark's JSON with every anchor and metric."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from realtime.engine import Engine, EngineConfig
from realtime.engine.runner import StyleRunner, round_up
from realtime.format.catalog import shipped_styles_dir
from realtime.format.style import load_style
from realtime.offline.validate import run_aligned, validate
from tests.conftest import stream

RATE = 48000
STYLE = shipped_styles_dir() / "speech-denoise.onnx"
ROOT = Path(__file__).resolve().parents[1]


def render(audio: np.ndarray, block: int = 480, **knobs: float) -> np.ndarray:
    """The style on mono ``audio`` in blocks, its declared latency removed."""
    style = load_style(STYLE)
    runner = StyleRunner(style, max_frames=round_up(block, style.manifest.block_multiple))
    runner.set_params([knobs.get(p.name, p.default) for p in style.manifest.params])
    return run_aligned(runner, audio.astype(np.float32), block)


def si_sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    scaled = np.dot(estimate, reference) / np.dot(reference, reference) * reference
    return float(10 * np.log10(np.sum(scaled**2) / np.sum((estimate - scaled) ** 2)))


@pytest.fixture(scope="module")
def material():
    """Held-out material (the benchmark's test split): flite's slt reading a Harvard sentence of
    lists 3-4, and a recorded OpenSFX test noise."""
    dm = pytest.importorskip("models.denoise_material")
    try:
        units = dm.flite_units(dm.TEST_FLITE_VOICES, [dm.TEST_SENTENCE_INDICES[0], dm.TEST_SENTENCE_INDICES[1]])
        clips = [c for c in dm.opensfx_clips() if dm.split_of(f"opensfx/{c.index}") == "test" and len(c.audio) > RATE]
    except dm.Missing as exc:
        pytest.skip(str(exc))
    speech = np.concatenate([np.zeros(RATE // 4), *units.values(), np.zeros(RATE // 4)])
    speech *= 10 ** (-26 / 20) / dm.active_rms(speech)
    return dm, speech, clips


def test_the_manifest_declares_a_restoration_style_within_20_ms():
    manifest = load_style(STYLE).manifest
    assert manifest.category == "restoration"
    assert [p.name for p in manifest.params] == ["strength"]
    # the style's own delay plus the engine's buffering of its 10 ms hop at 128-frame blocks
    engine = Engine(EngineConfig(sample_rate=RATE, block_frames=128))
    engine.load(STYLE)
    assert engine.latency.algorithmic_frames - 128 <= 0.020 * RATE, engine.latency  # less the worker's margin block
    report = validate(STYLE)
    assert report.ok, [c.detail for c in report.checks if not c.ok]


def test_streaming_equals_one_call():
    audio = np.random.default_rng(2).normal(0, 0.1, RATE).astype(np.float32)
    audio[RATE // 2 :] *= np.sin(2 * np.pi * 3 * np.arange(RATE // 2) / RATE)  # not stationary
    one_call = render(audio, block=len(audio) + 4096)
    for block in (1, 128, 441, 4096):  # rounded up to the 480-sample hop by the runner
        assert np.abs(render(audio, block=block) - one_call).max() <= 1e-5, block
    # and through the engine at device blocks that are not multiples of the hop
    outputs = []
    for block in (128, 441):
        engine = Engine(EngineConfig(sample_rate=RATE, block_frames=block))
        engine.load(STYLE)
        engine.jump_to_targets()
        out = stream(engine, np.concatenate([audio, np.zeros(4096, np.float32)])[:, None], block)[:, 0]
        outputs.append(out[engine.latency.total_frames :][: len(audio)])
    assert np.abs(outputs[0] - one_call).max() <= 1e-5
    assert np.abs(outputs[1] - one_call).max() <= 1e-5


def test_silence_gives_silence_and_strength_zero_is_a_pure_delay():
    assert np.abs(render(np.zeros(RATE, np.float32))).max() == 0.0
    audio = np.random.default_rng(3).normal(0, 0.1, RATE).astype(np.float32)
    assert np.abs(render(audio, strength=0.0) - audio).max() < 1e-5


def test_clean_speech_keeps_its_level_and_intelligibility(material):
    pystoi = pytest.importorskip("pystoi")
    dm, speech, _ = material
    out = render(speech)
    level_change_db = 20 * np.log10(dm.active_rms(out) / dm.active_rms(speech))
    assert abs(level_change_db) <= 1.0, level_change_db
    assert pystoi.stoi(speech, out, RATE) >= 0.95


def test_noise_is_removed_from_held_out_speech_and_strength_leaves_a_floor(material):
    dm, speech, clips = material
    results = {}
    for clip in clips[:3]:
        noise = dm.looped(dm.trimmed(clip.audio), len(speech), 0)
        noise *= dm.active_rms(speech) * 10 ** (-5 / 20) / dm.rms(noise)  # 5 dB SNR
        noisy = speech + noise
        scale = min(1.0, 0.95 / np.abs(noisy).max())
        clean, noisy = speech * scale, noisy * scale
        out = render(noisy)
        results[clip.index] = si_sdr_db(clean, out) - si_sdr_db(clean, noisy)
        # strength 0.5: the noise (alone) comes down by at most about 12 dB, never to nothing
        alone = render(noise * scale, strength=0.5)
        reduction_db = 20 * np.log10(dm.rms(noise * scale) / dm.rms(alone))
        assert 0.5 < reduction_db <= 12.5, (clip.index, reduction_db)
    assert np.mean(list(results.values())) >= 6.0, results


def test_the_benchmark_json_has_every_anchor_with_every_metric(tmp_path):
    for module in ("pesq", "pystoi", "speechmos", "pyrnnoise"):
        pytest.importorskip(module)
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "denoise.py"), "--items", "1", "--snr", "5", "--styles", str(STYLE),
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    systems = {s["key"]: s for s in report["systems"]}
    assert {"noisy", "rnnoise", "gtcrn", "dfn3", f"style:{STYLE}"} <= set(systems), list(systems)
    for key, system in systems.items():
        for metric in ("pesq", "stoi", "si_sdr", "ovrl", "sig", "bak"):
            assert np.isfinite(system["overall"][metric]), (key, metric)
        if key != "noisy":
            assert system["overall"]["cost"]["p99_ms"] > 0 and system["latency_ms"] > 0, key


def test_it_fits_a_rack_as_the_first_slot(tmp_path):
    """speech-denoise before an effect style: the rack validates (streaming, the summed latency
    measured with the denoiser at its probe setting, cost)."""
    from realtime.offline.validate import validate_rack

    rack = {"schema": "stylerack.rack/1", "slots": [{"style": "speech-denoise"}, {"style": "telephone"}]}
    (tmp_path / "r.json").write_text(json.dumps(rack))
    report = validate_rack(tmp_path / "r.json")
    assert report.ok, [c.detail for c in report.checks]
    assert any(f"declared {480}" in c.detail for c in report.checks), [c.detail for c in report.checks]
