"""The rack: styles in series with exact per-slot alignment and weights, click-free changes
while playing, knob addressing, and rack files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from realtime.engine import Engine, EngineConfig
from realtime.errors import ConfigError, RackFormatError, StyleFormatError
from realtime.format.rack import RackSpec, SlotSpec, file_sha256, read_rack, write_rack
from tests.conftest import noise, stream

BLOCKS = [1, 63, 128, 441]
MODES = ["direct", "buffered"]


def rack_engine(rack: RackSpec, block: int, mode: str = "direct", styles_dir=None) -> Engine:
    engine = Engine(EngineConfig(sample_rate=48000, block_frames=block, mode=mode))
    if styles_dir is not None:
        engine.styles_dirs = [str(styles_dir)]
    engine.set_rack(rack)
    engine.jump_to_targets()
    engine.start()
    return engine


def two_delays(styles_dir, first: str, second: str) -> RackSpec:
    return RackSpec(
        [SlotSpec(str(styles_dir / f"{first}.onnx"), mix=0.5), SlotSpec(str(styles_dir / f"{second}.onnx"), mix=1.0)],
        mix=0.5,
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize(
    "first, second, weight",
    [
        ("delay37", "delay100", 1.0),  # aligned dry and wet are the same signal: one copy, weight 1
        # slot 1: 0.5 dry + 0.5 * 0.5 wet = 0.75; slot 2: 0.25 * 0.75 = 0.1875; master: 0.5 + 0.5 * 0.1875
        ("half37", "quarter100", 0.5 + 0.5 * 0.25 * (0.5 + 0.5 * 0.5)),
    ],
)
def test_chain_of_two_delays_is_one_exact_delayed_copy(styles_dir, mode, block, first, second, weight):
    signal = noise(9000, seed=block)
    engine = rack_engine(two_delays(styles_dir, first, second), block, mode)
    out = stream(engine, signal, block)
    engine.stop()
    latency = engine.latency
    assert [round(frames) for _, frames in latency.parts] == [37, 100]
    assert round(latency.style_frames) == 137
    total = latency.total_frames
    expected = np.zeros_like(out)
    expected[total:] = weight * signal[: len(signal) - total]
    assert np.abs(out - expected).max() < 1e-6, (first, second, mode, block)
    assert engine.stats.late_blocks == 0


@pytest.mark.parametrize("mode", MODES)
def test_impulse_latency_of_a_rack_equals_reported(styles_dir, mode):
    rack = RackSpec([SlotSpec(str(styles_dir / n)) for n in ("delay37.onnx", "multiple4.onnx", "delay100.onnx")])
    engine = rack_engine(rack, 441, mode)
    signal = np.zeros((48000, 1), np.float32)
    signal[3000] = 1.0
    out = stream(engine, signal, 441)
    engine.stop()
    measured = int(np.argmax(np.abs(out[:, 0]))) - 3000
    assert measured == engine.latency.total_frames
    assert engine.latency.buffering_frames == 4 - np.gcd(441, 4)  # the rack's block multiple is the slots' lcm


def sine(frames: int, hz: float = 220.0, level: float = 0.5) -> np.ndarray:
    return (level * np.sin(2 * np.pi * hz * np.arange(frames) / 48000)).astype(np.float32)[:, None]


@pytest.mark.parametrize("mode", MODES)
def test_changing_the_rack_while_a_sine_plays_never_steps(styles_dir, mode):
    """Add, move, remove, swap, bypass and mix while a 220 Hz sine plays: no step larger
    than the sine's own (10% allowance: a crossfade between two latencies adds at most
    2 * level / crossfade frames = 5% of it), and no late block."""
    block = 128
    signal = sine(48000 * 3)
    engine = rack_engine(RackSpec([SlotSpec(str(styles_dir / "delay37.onnx"))]), block, mode)
    changes = {
        40: lambda: engine.add_slot(str(styles_dir / "delay100.onnx")),
        80: lambda: engine.move_slot(2, 1),
        120: lambda: engine.add_slot(str(styles_dir / "quieter.onnx"), 2),
        160: lambda: engine.set_slot_mix(2, 0.3),
        200: lambda: engine.set_slot_bypass(1, True),
        240: lambda: engine.remove_slot(1),
        280: lambda: engine.set_slot_style(1, str(styles_dir / "half37.onnx")),
        320: lambda: engine.set_slot_bypass(1, False),
        360: lambda: engine.remove_slot(2),
        400: lambda: engine.remove_slot(1),
    }
    out = np.zeros_like(signal)
    for index, start in enumerate(range(0, len(signal), block)):
        if index in changes:
            changes[index]()
        engine.process(signal[start : start + block], out[start : start + block])
        if engine.worker is not None:
            engine.worker.drain()
    engine.stop()
    own_step = 0.5 * 2 * np.sin(np.pi * 220 / 48000)
    steps = np.abs(np.diff(out[:, 0]))
    assert steps.max() <= 1.1 * own_step, (steps.max(), own_step, int(np.argmax(steps)))
    assert engine.stats.late_blocks == 0
    assert engine.rack.slots == []  # every slot removed: the rack passes the input through
    assert round(engine.latency.style_frames) == 0
    delay = engine.latency.total_frames  # buffered mode's worker margin only
    assert np.abs(out[-1000:, 0] - signal[len(signal) - delay - 1000 : len(signal) - delay, 0]).max() < 1e-6


def test_a_refused_style_keeps_the_slot_playing_what_it_had(styles_dir, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    engine = rack_engine(RackSpec([SlotSpec(str(styles_dir / "delay37.onnx"))]), 128)
    with pytest.raises(StyleFormatError, match="broken.onnx"):
        engine.set_slot_style(1, str(broken))
    assert [s.style_name for s in engine.rack.slots] == ["delay37"]
    with pytest.raises(ConfigError, match="runs at 44100 Hz"):
        engine.add_slot(str(styles_dir / "delay5_44k.onnx"))
    with pytest.raises(ConfigError, match="no slot 3"):
        engine.remove_slot(3)
    assert [s.style_name for s in engine.rack.slots] == ["delay37"]


def test_knobs_are_addressed_by_slot_number_or_style_name(styles_dir):
    rack = RackSpec([SlotSpec(str(styles_dir / "gain.onnx")), SlotSpec(str(styles_dir / "delay37.onnx")),
                     SlotSpec(str(styles_dir / "quieter.onnx"))])
    engine = rack_engine(rack, 128)
    with pytest.raises(ConfigError, match="say which: 1.gain, 3.gain"):
        engine.set_param("gain", 3.0)
    assert engine.set_param("1.gain", 3.0) == 3.0
    assert engine.set_param("quieter.gain", 100.0) == 24.0  # clamped to the knob's range
    with pytest.raises(ConfigError, match="no slot holds a style named 'fuzz'"):
        engine.set_param("fuzz.gain", 1.0)
    with pytest.raises(ConfigError, match="has no knob 'drive'"):
        engine.set_param("2.drive", 1.0)
    assert [s.params.get("gain") for s in engine.rack.slots] == [3.0, None, 24.0]
    single = rack_engine(RackSpec([SlotSpec(str(styles_dir / "gain.onnx"))]), 128)
    assert single.set_param("gain", -3.0) == -3.0  # a plain name works when one slot has it


def test_rack_files_round_trip_and_refuse_broken_ones(styles_dir, tmp_path):
    rack = two_delays(styles_dir, "gain", "delay37")
    rack.slots[0].params = {"gain": -4.5}
    rack.slots[1].bypass = True
    rack.input_gain_db = 3.0
    engine = rack_engine(rack, 128)
    path = write_rack(tmp_path / "voice.json", engine.rack)
    again = read_rack(path)
    assert [s.style_name for s in again.slots] == ["gain", "delay37"]
    assert again.slots[0].params == {"gain": -4.5} and again.slots[1].bypass and again.mix == 0.5
    assert again.input_gain_db == 3.0
    assert again.slots[0].sha256 == file_sha256(styles_dir / "gain.onnx")
    with pytest.raises(RackFormatError, match="voice.json: already exists"):
        write_rack(path, engine.rack)
    before = path.read_text()
    assert write_rack(path, engine.rack, overwrite=True) == path and path.read_text() == before

    cases = {
        "broken.json": ("{", "broken JSON at line 1"),
        "schema.json": (json.dumps({"schema": "stylerack.rack/9", "slots": []}), "unknown schema"),
        "mix.json": (json.dumps({"schema": "stylerack.rack/1", "slots": [{"style": "x", "mix": 2}]}), "slot 1 mix is 2"),
        "list.json": (json.dumps({"schema": "stylerack.rack/1", "slots": {}}), "'slots' must be a list"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(RackFormatError, match=message) as caught:
            read_rack(tmp_path / name)
        assert str(caught.value).startswith(str(tmp_path / name)) and "\n" not in str(caught.value)


def test_a_rack_naming_a_missing_style_loads_the_rest(styles_dir, tmp_path):
    data = {
        "schema": "stylerack.rack/1",
        "slots": [{"style": "delay37", "sha256": "0" * 64}, {"style": "no-such-style"}, {"style": "delay100"}],
    }
    (tmp_path / "r.json").write_text(json.dumps(data))
    engine = rack_engine(read_rack(tmp_path / "r.json"), 128, styles_dir=styles_dir)
    assert engine.notes == [
        f"slot 1: style 'delay37' has changed since the rack was saved ({styles_dir / 'delay37.onnx'})",
        "slot 2 is empty: style 'no-such-style' is not installed",
    ]
    assert round(engine.latency.style_frames) == 137  # the empty slot passes through
    assert [s.style_name for s in engine.rack.slots] == ["delay37", "no-such-style", "delay100"]


# ---- the command line ---------------------------------------------------------------------

def run_cli(*argv: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "realtime.cli", *argv], capture_output=True, text=True, timeout=180)
    return result.returncode, result.stdout, result.stderr


def test_render_of_a_rack_equals_the_chain_of_single_renders(tmp_path):
    """Shipped styles, slot 1 at mix 0.5 and a knob set by SLOT.NAME: the rack's render is
    the first style's render (at that mix) rendered through the second."""
    import soundfile as sf

    source = tmp_path / "in.wav"
    sf.write(source, noise(48000, seed=11, level=0.4), 48000, subtype="FLOAT")
    rack = RackSpec([SlotSpec("tube-drive", mix=0.5), SlotSpec("telephone")])
    write_rack(tmp_path / "chain.json", rack)
    code, out, err = run_cli("render", str(source), str(tmp_path / "rack.wav"), "--rack", str(tmp_path / "chain.json"),
                             "--param", "tube-drive.drive=0.8", "--block", "441")
    assert code == 0, err
    assert "tube-drive > telephone" in out
    code, _, err = run_cli("render", str(source), str(tmp_path / "one.wav"), "--style", "tube-drive", "--mix", "0.5",
                           "--param", "drive=0.8")
    assert code == 0, err
    code, _, err = run_cli("render", str(tmp_path / "one.wav"), str(tmp_path / "two.wav"), "--style", "telephone")
    assert code == 0, err
    chained, _ = sf.read(tmp_path / "two.wav", dtype="float32")
    racked, _ = sf.read(tmp_path / "rack.wav", dtype="float32")
    assert chained.shape == racked.shape
    assert np.abs(chained - racked).max() < 1e-5
    assert np.abs(racked).max() > 0.05  # it is not silence
    code, out2, err = run_cli("render", str(source), str(tmp_path / "styles.wav"), "--style", "tube-drive",
                              "--style", "telephone", "--param", "1.drive=0.8")
    assert code == 0, err  # --style twice is the same chain at slot mix 1


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{", "broken JSON at line 1"),
        ('{"schema": "stylerack.rack/7", "slots": []}', "unknown schema"),
        ('{"schema": "stylerack.rack/1", "slots": [{"mix": 1}]}', "slot 1 needs a style name"),
    ],
)
def test_broken_rack_files_give_one_line_and_exit_2(tmp_path, text, fragment):
    import soundfile as sf

    sf.write(tmp_path / "in.wav", noise(4800), 48000)
    (tmp_path / "bad.json").write_text(text)
    for argv in (["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--rack", str(tmp_path / "bad.json")],
                 ["validate", str(tmp_path / "bad.json")]):
        code, out, err = run_cli(*argv)
        assert code == 2, (out, err)
        assert fragment in err and str(tmp_path / "bad.json") in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.wav").exists()


def test_cli_rack_with_a_missing_style_renders_the_rest_and_validate_fails_it(styles_dir, tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "in.wav", noise(4800), 48000)
    data = {"schema": "stylerack.rack/1", "slots": [{"style": "delay37"}, {"style": "gone-style"}]}
    (tmp_path / "r.json").write_text(json.dumps(data))
    code, out, err = run_cli("render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--rack",
                             str(tmp_path / "r.json"), "--styles-dir", str(styles_dir))
    assert code == 0, err
    assert "slot 2 is empty: style 'gone-style' is not installed" in err
    code, out, _ = run_cli("validate", str(tmp_path / "r.json"), "--styles-dir", str(styles_dir))
    assert code == 1 and "INVALID" in out and "gone-style" in out
    data["slots"][1]["style"] = "delay100"
    (tmp_path / "r.json").write_text(json.dumps(data))
    code, out, _ = run_cli("validate", str(tmp_path / "r.json"), "--styles-dir", str(styles_dir))
    assert code == 0, out
    assert "impulse response starts at 137 samples, declared 137 (37 + 100)" in out
    code, _, err = run_cli("render", str(tmp_path / "in.wav"), str(tmp_path / "x.wav"), "--rack",
                           str(tmp_path / "r.json"), "--style", "delay37")
    assert code == 2 and "not both" in err


def test_console_edits_the_rack(styles_dir, tmp_path):
    from realtime.cli.console import apply_command

    class Host:
        engine = rack_engine(RackSpec([SlotSpec(str(styles_dir / "delay37.onnx"))]), 128, styles_dir=styles_dir)

    dirs = [str(styles_dir)]
    host = Host()
    assert apply_command(host, "add delay100", dirs).startswith("rack: delay37 > delay100 (latency 137 samples")
    assert apply_command(host, "add gain 1", dirs).startswith("rack: gain > delay37 > delay100")
    assert apply_command(host, "move 1 3", dirs).startswith("rack: delay37 > delay100 > gain")
    assert apply_command(host, "slot 3 param gain=-3", dirs) == "slot 3 param gain=-3"
    assert apply_command(host, "slot 2 mix 0.25", dirs) == "slot 2 mix 0.25"
    assert apply_command(host, "slot 1 bypass on", dirs) == "slot 1 bypass on"
    assert apply_command(host, "slot 1 style quieter", dirs).startswith("rack: quieter > delay100 > gain")
    assert apply_command(host, "remove 2", dirs).startswith("rack: quieter > gain")
    saved = tmp_path / "mine.json"
    assert apply_command(host, f"rack save {saved}", dirs) == f"rack saved to {saved}"
    with pytest.raises(ConfigError, match="already exists"):
        apply_command(host, f"rack save {saved}", dirs)
    with pytest.raises(ConfigError, match="use 'slot N style NAME'"):
        apply_command(host, "style delay37", dirs)
    apply_command(host, "remove 1", dirs)
    assert apply_command(host, f"rack load {saved}", dirs).startswith("rack: quieter > gain")
    rack = host.engine.rack
    assert rack.slots[0].bypass and rack.slots[1].params == {"gain": -3.0}
