"""Timbre styles: streaming, phase continuity, pitch following, silence, export, training."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
librosa = pytest.importorskip("librosa")

from models.export import export_style  # noqa: E402
from models.pitch import HOP, RATE  # noqa: E402
from models.timbre import TimbreModel  # noqa: E402
from models.timbre_recipes import manifest_for  # noqa: E402
from models.timbre_train import onset_latency, pitch_error_cents  # noqa: E402
from realtime.format.catalog import shipped_styles_dir  # noqa: E402
from realtime.engine.runner import StyleRunner  # noqa: E402
from realtime.format.style import load_style  # noqa: E402
from realtime.offline.validate import run_blocks, validate  # noqa: E402
from tests.conftest import make_engine, stream  # noqa: E402

VIOLIN = shipped_styles_dir() / "violin.onnx"
SHIPPED_TIMBRE = ("violin", "flute", "trumpet")
FAST_PYIN = {"resolution": 0.1, "range_hz": (70.0, 1200.0)}  # a 10-cent grid: enough to hold errors to 20 cents


def voice_like(f0_hz: np.ndarray, level: float = 0.3) -> np.ndarray:
    """A harmonic tone following ``f0_hz`` per sample, with a voice-like falling spectrum."""
    phase = 2 * np.pi * np.cumsum(f0_hz) / RATE
    tone = sum(np.sin(k * phase) / k**1.5 for k in range(1, 12))
    return (level * tone / np.abs(tone).max()).astype(np.float32)


def run_style(path: Path, audio: np.ndarray, block: int, params=None) -> np.ndarray:
    runner = StyleRunner(load_style(path), max_frames=65536)
    if params is not None:
        runner.set_params(params)
    audio = audio[: len(audio) - len(audio) % HOP]
    return run_blocks(runner, audio[None, :], block)[0]


def test_streaming_equals_one_call_in_pytorch():
    torch.manual_seed(0)
    model = TimbreModel(hidden=16).eval()
    t = np.arange(RATE) / RATE
    audio = torch.from_numpy(voice_like(200 * 2 ** np.sin(2 * np.pi * t)) * (t > 0.2))[None, None]
    params = torch.tensor([[3.0, 2.0, -6.0]])
    with torch.no_grad():
        whole = model(audio, params, chunk=RATE)
        for block in (HOP, 3 * HOP, 32 * HOP):
            state, parts = model.initial_state(1), []
            for start in range(0, RATE, block):
                out, *state = model.step(audio[:, :, start : start + block], params, *state)
                parts.append(out)
            assert torch.cat(parts, dim=2).sub(whole).abs().max() < 5e-5, block


@pytest.mark.parametrize("block", [1, 441, 4096])
def test_a_steady_tone_has_no_clicks_at_any_block_size(block):
    tone = voice_like(np.full(RATE, 220.0))
    engine = make_engine(VIOLIN, block)
    out = stream(engine, tone[:, None], block)[:, 0]
    one_call = run_style(VIOLIN, tone, RATE - RATE % HOP, [p.default for p in load_style(VIOLIN).manifest.params])
    delay = engine.latency.buffering_frames + engine.latency.worker_frames  # the engine's own, not the style's
    aligned = out[delay : delay + len(one_call)]
    assert np.abs(aligned - one_call[: len(aligned)]).max() < 1e-4  # blocks add nothing
    steady = one_call[RATE // 4 :]
    assert np.abs(steady).max() > 0.05  # it plays
    step = np.abs(np.diff(steady))
    at_frame_edges = step[HOP - 1 :: HOP]  # the sample pairs across each 128-sample frame boundary
    assert at_frame_edges.max() <= 1.05 * np.delete(step, np.arange(HOP - 1, len(step), HOP)).max()


@pytest.mark.parametrize("name", SHIPPED_TIMBRE)
def test_shipped_timbre_styles_validate_with_their_declared_onset_latency(name):
    report = validate(shipped_styles_dir() / f"{name}.onnx")
    assert report.ok, [c.detail for c in report.checks]
    manifest = report.style.manifest
    assert manifest.category == "timbre" and manifest.latency_probe == "onset"
    assert 0 < manifest.latency_samples <= 0.030 * RATE  # the 30 ms target
    assert report.real_time_factor < 1.0  # a loose sanity bound; the target is measured by `stylerack bench`


def test_pitch_follows_a_glide_and_the_transpose_knob():
    seconds = 3.0
    t = np.arange(int(seconds * RATE)) / RATE
    glide = voice_like(np.geomspace(140.0, 420.0, len(t)))
    latency = load_style(VIOLIN).manifest.latency_samples
    for transpose in (12.0, -5.0):
        out = run_style(VIOLIN, glide, 4096, [transpose, 0.0, 0.0])
        error = pitch_error_cents(glide[: len(out)], out, transpose, latency, **FAST_PYIN)
        assert error["voiced_frames"] > 0.8 * error["input_voiced_frames"], error
        assert error["median_abs_cents"] <= 20.0, (transpose, error)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed (scripts/setup.sh --material)")
def test_pitch_follows_a_rendered_sung_melody(tmp_path):
    from models.timbre_material import VOICE_PROGRAM, render_midi, write_monophonic_midi

    midi = tmp_path / "sung.mid"
    write_monophonic_midi(midi, VOICE_PROGRAM, 50, 65, seed=77, seconds=5.0)
    sung = render_midi(midi, tmp_path)
    sung = (0.5 * sung / np.abs(sung).max()).astype(np.float32)
    out = run_style(VIOLIN, sung, 4096, [12.0, 0.0, 0.0])
    error = pitch_error_cents(sung[: len(out)], out, 12.0, load_style(VIOLIN).manifest.latency_samples, **FAST_PYIN)
    assert error["voiced_frames"] > 100 and error["median_abs_cents"] <= 20.0, error


def test_silence_gives_silence_and_a_note_never_sticks():
    silence = np.zeros(RATE, np.float32)
    assert np.abs(run_style(VIOLIN, silence, 512)).max() == 0.0
    tone = voice_like(np.full(RATE // 2, 300.0))
    note_then_silence = np.concatenate([tone, silence])
    out = run_style(VIOLIN, note_then_silence, 512)
    assert np.abs(out[: RATE // 2]).max() > 0.05
    assert np.abs(out[RATE // 2 + int(0.05 * RATE) :]).max() == 0.0  # gone within 50 ms of the input
    breath = np.random.default_rng(3).normal(0, 0.05, RATE).astype(np.float32)  # unvoiced: noise, no note
    out = run_style(VIOLIN, breath, 512)
    f0, voiced, _ = librosa.pyin(out.astype(np.float64), fmin=60, fmax=2000, sr=RATE, frame_length=4096, hop_length=512)
    assert voiced.mean() < 0.1 and np.abs(out).max() < 0.5


def test_export_parity_streaming_and_onset_latency(tmp_path):
    torch.manual_seed(2)
    model = TimbreModel(hidden=16).eval()
    latency = onset_latency(model)
    manifest = manifest_for("tiny-timbre", "test", 0.0, latency, {})
    report = export_style(model, manifest, tmp_path / "tiny.onnx")
    assert report.torch_vs_onnx_max_abs < 1e-4 and report.stream_vs_call_max_abs < 1e-5
    lying = manifest_for("liar", "test", 0.0, latency + 480, {})
    with pytest.raises(Exception, match="declared"):
        export_style(model, lying, tmp_path / "liar.onnx")
    assert not (tmp_path / "liar.onnx").exists()


def stylerack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "realtime.cli", *args], capture_output=True, text=True, timeout=600)


def test_train_timbre_from_a_folder_smoke_run(tmp_path):
    import soundfile as sf

    target = tmp_path / "recordings"
    target.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):  # 4 s of a made-up 'instrument': a bright tone over a random melody
        notes = np.repeat(rng.uniform(180, 700, 8), RATE // 2)
        audio = voice_like(notes, 0.4) * np.tile(np.minimum(1, np.arange(RATE // 2) / 800), 8)
        sf.write(target / f"take{index}.wav", audio, RATE)
    out = tmp_path / "out"
    result = stylerack("train", "timbre", "--target", str(target), "--name", "mine", "--steps", "6", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and validate(out / "mine.onnx").ok
    report = json.loads((out / "mine.report.json").read_text())
    assert report["steps"] == 6 and (out / "mine.loss.png").exists() and (out / "mine.pt").stat().st_size < 2_000_000
    again = stylerack("train", "timbre", "--target", str(target), "--name", "mine", "--steps", "6", "--out", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_train_timbre_refuses_bad_folders(tmp_path):
    import soundfile as sf

    empty = tmp_path / "empty"
    empty.mkdir()
    silent = tmp_path / "silent"
    silent.mkdir()
    sf.write(silent / "quiet.wav", np.zeros(RATE, np.float32), RATE)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "take.wav").write_bytes(b"RIFF not really")
    cases = {empty: "no recordings", silent: "quiet.wav: silent", broken: "take.wav: cannot read it as audio"}
    for folder, fragment in cases.items():
        result = stylerack("train", "timbre", "--target", str(folder), "--name", "x", "--out", str(tmp_path))
        assert result.returncode == 2 and fragment in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
