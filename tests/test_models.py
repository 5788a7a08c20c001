"""models/: streaming layers, export parity, capture training and its refusals (needs torch)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")

from models.arch import ARCHITECTURES, build, stream  # noqa: E402
from models.capture import CaptureError, check_pair, run_capture  # noqa: E402
from models.export import ExportError, export_style  # noqa: E402
from realtime.format.style import load_style  # noqa: E402


def manifest(name: str, knobs: int) -> dict:
    return {
        "schema": 1, "name": name, "description": "test", "category": "test", "sample_rate": 48000, "channels": 1,
        "block_multiple": 1, "latency_samples": 0,
        "params": [{"name": "drive", "min": 0.0, "max": 1.0, "default": 0.3, "unit": ""}] if knobs else [],
        "provenance": {"architecture": "test"},
    }


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_step_over_blocks_equals_forward(arch):
    torch.manual_seed(0)
    model = build(arch, num_params=1).eval()
    audio = torch.randn(2, 1, 3000) * 0.3
    params = torch.rand(2, 1)
    with torch.no_grad():
        whole = model(audio, params)
        for block in (1, 63, 441, 4096):
            if block == 1 and arch.startswith("gru"):
                continue  # slow in eager PyTorch, and the GRU's step is the same call at any size
            assert torch.abs(stream(model, audio, params, block) - whole).max() < 1e-5, block


@pytest.mark.parametrize("arch, knobs", [("conv-8", 1), ("gru-8", 0)])
def test_export_parity_and_format(tmp_path, arch, knobs):
    torch.manual_seed(1)
    model = build(arch, knobs)
    out = tmp_path / f"{arch}.onnx"
    report = export_style(model, manifest(arch, knobs), out)
    assert report.torch_vs_onnx_max_abs < 1e-4 and report.stream_vs_call_max_abs < 1e-5
    style = load_style(out)
    assert style.has_params == bool(knobs) and style.manifest.latency_samples == 0
    assert report.size_bytes < 2_000_000


def test_export_refuses_a_bad_manifest_and_writes_nothing(tmp_path):
    body = manifest("bad", 0)
    body["latency_samples"] = 12  # a lie: the model has no delay; validate measures 0
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="declared 12"):
        export_style(build("conv-8"), body, out)
    assert not out.exists() and not list(tmp_path.glob("*.onnx"))


def write_pair(tmp_path, dry, wet, rate=48000, wet_rate=None):
    dry_path, wet_path = tmp_path / "dry.wav", tmp_path / "wet.wav"
    sf.write(dry_path, dry, rate, subtype="FLOAT")
    sf.write(wet_path, wet, wet_rate or rate, subtype="FLOAT")
    return dry_path, wet_path


def program(seconds: float, seed: int = 0) -> np.ndarray:
    """Varied test material: decaying tones at different levels, and noise bursts."""
    rng = np.random.default_rng(seed)
    rate = 48000
    out = np.zeros(int(seconds * rate), np.float32)
    for start in range(0, len(out) - 12000, 6000):
        t = np.arange(12000) / rate
        tone = np.sin(2 * np.pi * rng.uniform(80, 2000) * t) + 0.3 * rng.normal(0, 1, 12000) * (rng.random() < 0.3)
        out[start : start + 12000] += (rng.uniform(0.05, 0.6) * tone * np.exp(-t * rng.uniform(2, 10))).astype(np.float32)
    return np.clip(out, -0.95, 0.95)


def test_capture_learns_a_known_effect(tmp_path):
    dry = program(8.0)
    effect = (0.6 * np.tanh(2.5 * dry)).astype(np.float32)  # a fixed gain into a soft clipper
    delay = 100
    wet = np.concatenate([np.zeros(delay, np.float32), effect[:-delay]])
    dry_path, wet_path = write_pair(tmp_path, dry, wet)
    report = run_capture(dry_path, wet_path, "softclip", "conv-8", 200, tmp_path)
    assert report["delay_samples"] == delay
    assert report["validation_esr"] < 0.02, report["val_esr"]
    style = load_style(tmp_path / "softclip.onnx")
    assert style.manifest.provenance["delay_removed_samples"] == delay
    assert (tmp_path / "softclip.pt").stat().st_size < 200_000 and (tmp_path / "softclip.loss.png").exists()
    assert json.loads((tmp_path / "softclip.report.json").read_text())["steps"] == 200


def test_capture_refuses_bad_pairs(tmp_path):
    dry = program(3.0, seed=2)
    cases = {
        "out of step": (dry, np.concatenate([np.zeros(24000, np.float32), dry[:-24000]]), None),
        "is silent": (dry, np.zeros_like(dry), None),
        "is clipped": (dry, np.clip(dry * 40, -1, 1), None),
        "sample rate 44100 Hz differs": (dry, dry, 44100),
    }
    for fragment, (a, b, wet_rate) in cases.items():
        dry_path, wet_path = write_pair(tmp_path, a, b, wet_rate=wet_rate)
        with pytest.raises(CaptureError, match=fragment):
            check_pair(dry_path, wet_path)
    dry_path, wet_path = write_pair(tmp_path, dry, dry[:-10])
    with pytest.raises(CaptureError, match="same length"):
        check_pair(dry_path, wet_path)


def test_train_command_gives_one_line_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "realtime.cli", "train", "capture", "--dry", str(tmp_path / "none.wav"),
         "--wet", str(tmp_path / "none2.wav"), "--name", "x", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "none.wav: no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_train_refuses_to_replace_any_file_it_would_write(tmp_path):
    """Not only NAME.onnx: a NAME.report.json (or .pt, .loss.png) the user has is refused before
    any work, and left as it was."""
    mine = tmp_path / "x.report.json"
    mine.write_text("my notes\n")
    result = subprocess.run(
        [sys.executable, "-m", "realtime.cli", "train", "capture", "--dry", str(tmp_path / "none.wav"),
         "--wet", str(tmp_path / "none2.wav"), "--name", "x", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "x.report.json: already exists" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and mine.read_text() == "my notes\n"
