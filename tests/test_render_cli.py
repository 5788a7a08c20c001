"""Offline render through the engine, and the command line's promises (one-line errors, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile as sf

from realtime.cli import main
from realtime.offline.render import render_file
from realtime.format.style import load_style
from tests.conftest import noise


@pytest.fixture()
def stereo_wav(tmp_path) -> Path:
    path = tmp_path / "in.wav"
    sf.write(path, noise(30011, channels=2, seed=3), 48000, subtype="FLOAT")
    return path


def run_cli(*argv: str) -> tuple[int, str, str]:
    result = subprocess.run([sys.executable, "-m", "realtime.cli", *argv], capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("mode", ["direct", "buffered"])
def test_render_is_the_same_for_every_block_size(styles_dir, stereo_wav, tmp_path, mode):
    style = load_style(styles_dir / "stereo_delay.onnx")
    source, rate = sf.read(stereo_wav, dtype="float32")
    results = []
    for block in (1, 64, 441, 4096):
        out = tmp_path / f"out_{mode}_{block}.wav"
        render_file(stereo_wav, out, style, block_frames=block, mode=mode)
        data, out_rate = sf.read(out, dtype="float32")
        assert out_rate == rate and data.shape == source.shape
        results.append(data)
    # latency compensated: a pure-delay style renders back to the input itself
    for data in results:
        assert np.abs(data - results[0]).max() <= 1e-5
        assert np.abs(data - source).max() <= 1e-6


def test_render_with_mix_and_knob(styles_dir, tmp_path):
    path = tmp_path / "mono.flac"
    sf.write(path, noise(9000, level=0.2), 48000, subtype="PCM_24")
    out = tmp_path / "gain.wav"
    assert main(["render", str(path), str(out), "--style", str(styles_dir / "gain.onnx"), "--param", "gain=6", "--mix", "0.5"]) == 0
    source, _ = sf.read(path, dtype="float32")
    data, _ = sf.read(out, dtype="float32")
    expected = source * (0.5 + 0.5 * 10 ** (6 / 20))
    assert np.abs(data - expected).max() < 1e-4  # 24-bit input kept as 24-bit output


def test_a_knob_value_out_of_range_is_used_at_its_limit_and_said(styles_dir, tmp_path, capsys):
    path = tmp_path / "mono.wav"
    sf.write(path, noise(4800, level=0.01), 48000, subtype="FLOAT")
    out = tmp_path / "loud.wav"
    assert main(["render", str(path), str(out), "--style", str(styles_dir / "gain.onnx"), "--param", "gain=40"]) == 0
    assert "gain=40 is not a value 'gain' takes (-24..24 dB); using 24" in capsys.readouterr().err
    source, _ = sf.read(path, dtype="float32")
    data, _ = sf.read(out, dtype="float32")
    assert np.abs(data - source * 10 ** (24 / 20)).max() < 1e-4


def test_render_resamples_a_file_at_another_rate(styles_dir, tmp_path):
    rate = 44100
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "tone44.wav"
    sf.write(path, tone, rate, subtype="FLOAT")
    out = tmp_path / "tone44_out.wav"
    render_file(path, out, load_style(styles_dir / "delay37.onnx"))  # a 48 kHz style
    data, out_rate = sf.read(out, dtype="float32")
    assert out_rate == rate and data.shape == tone.shape
    middle = slice(2000, rate - 2000)
    assert np.abs(data[middle] - tone[middle]).max() < 2e-3  # aligned, both resamplings included


def test_render_refuses_to_overwrite_and_to_write_over_its_input(styles_dir, stereo_wav, tmp_path):
    style = str(styles_dir / "identity.onnx")
    out = tmp_path / "exists.wav"
    out.write_bytes(b"precious")
    code, _, err = run_cli("render", str(stereo_wav), str(out), "--style", style)
    assert code == 2 and "already exists" in err and err.count("\n") == 1
    assert out.read_bytes() == b"precious"
    code, _, err = run_cli("render", str(stereo_wav), str(stereo_wav), "--style", style, "--overwrite")
    assert code == 2 and "is the input file" in err
    code, _, _ = run_cli("render", str(stereo_wav), str(out), "--style", style, "--overwrite", "--mode", "buffered")
    assert code == 0 and sf.info(out).frames == sf.info(stereo_wav).frames


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["render", "{missing}", "{out}", "--style", "{style}"], "no such file"),
        (["render", "{garbage}", "{out}", "--style", "{style}"], "cannot read audio"),
        (["render", "{wav}", "{out}", "--style", "nonexistent_style"], "no style named 'nonexistent_style'"),
        (["render", "{wav}", "{out}", "--style", "{garbage}"], "not an ONNX model"),
        (["render", "{wav}", "{out}", "--style", "{style}", "--mix", "1.5"], "outside 0..1"),
        (["render", "{wav}", "{out}", "--style", "{style}", "--block", "0"], "outside 1..8192"),
        (["render", "{wav}", "{out}", "--style", "{style}", "--param", "gain"], "NAME=NUMBER"),
        (["render", "{wav}", "{tmp}/x.mp3", "--style", "{style}"], "unsupported output type"),
        (["render", "{wav}", "{out}", "--style", "{gain}", "--param", "drive=3"], "no knob 'drive'"),
        (["validate", "{missing}"], "no such style or rack file"),
        (["render", "{wav}"], "required"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(styles_dir, stereo_wav, tmp_path, args, fragment):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00junk" * 5)
    names = {
        "missing": str(tmp_path / "missing.wav"),
        "garbage": str(garbage),
        "out": str(tmp_path / "out.wav"),
        "wav": str(stereo_wav),
        "tmp": str(tmp_path),
        "style": str(styles_dir / "identity.onnx"),
        "gain": str(styles_dir / "gain.onnx"),
    }
    code, out, err = run_cli(*[a.format(**names) for a in args])
    assert code == 2, (out, err)
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not (tmp_path / "out.wav").exists()


def test_styles_lists_and_validate_checks(styles_dir, tmp_path):
    code, out, _ = run_cli("styles", "--styles-dir", str(styles_dir))
    assert code == 0 and "delay37" in out and "gain [-24..24 dB]" in out
    code, out, _ = run_cli("validate", str(styles_dir / "delay37.onnx"))
    assert code == 0 and "impulse response starts at 37 samples, declared 37" in out and "valid" in out
    # a style that lies about its latency fails validation with exit 1
    model = onnx.load(str(styles_dir / "delay5.onnx"))
    body = json.loads(model.metadata_props[0].value)
    body["latency_samples"] = 0
    model.metadata_props[0].value = json.dumps(body)
    liar = tmp_path / "liar.onnx"
    onnx.save(model, str(liar))
    code, out, _ = run_cli("validate", str(liar))
    assert code == 1 and "FAIL  declared latency: impulse response starts at 5 samples, declared 0" in out
    bad = tmp_path / "bad.onnx"
    bad.write_text("nope")
    code, out, _ = run_cli("validate", str(bad))
    assert code == 1 and "FAIL  format" in out
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("stylerack ")


def test_realtime_never_imports_torch_qt_models_or_gui():
    root = Path(__file__).resolve().parents[1]
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
