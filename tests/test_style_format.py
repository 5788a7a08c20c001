"""One hand-built bad file per refusal of the style format; each must be refused with a
message that names the file and the fault."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from realtime.errors import StyleFormatError, StyleNotFoundError
from realtime.engine.runner import StyleRunner
from realtime.format.style import load_style
from tests import style_builders as sb


def identity_graph(path: Path, manifest_body, *, in_type=TensorProto.FLOAT, opset=17, domain="", extra_inputs=(), extra_outputs=(), nodes=None):
    inputs = [helper.make_tensor_value_info("audio_in", in_type, [1, "frames"]), *extra_inputs]
    outputs = [helper.make_tensor_value_info("audio_out", in_type, [1, "frames"]), *extra_outputs]
    nodes = nodes or [helper.make_node("Identity", ["audio_in"], ["audio_out"], domain=domain)]
    return sb.save_model(path, nodes, inputs, outputs, manifest_body, opset=opset)


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(StyleFormatError) as info:
        load_style(path)
    message = str(info.value)
    assert str(path) in message, message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_the_fixture_styles_load(styles_dir):
    for path in styles_dir.glob("*.onnx"):
        style = load_style(path)
        assert style.manifest.schema == 1
    delay = load_style(styles_dir / "delay37.onnx")
    assert delay.state_shapes == {"0": (1, 37)} and delay.manifest.latency_samples == 37


def test_not_onnx(tmp_path):
    path = tmp_path / "text.onnx"
    path.write_text("this is not a model\n" * 20)
    refused(path, "not an ONNX model")


def test_truncated(tmp_path, styles_dir):
    whole = (styles_dir / "delay37.onnx").read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(whole[: len(whole) // 2])
    refused(path, "not an ONNX model or truncated")


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(StyleNotFoundError, match="no such style file"):
        load_style(tmp_path / "nothing.onnx")


def test_no_manifest(tmp_path):
    refused(identity_graph(tmp_path / "bare.onnx", None), "no StyleRack manifest")


def test_manifest_not_json(tmp_path):
    refused(identity_graph(tmp_path / "j.onnx", "{name: oops"), "invalid manifest", "not JSON")


@pytest.mark.parametrize("field", ["name", "sample_rate", "latency_samples", "params", "provenance"])
def test_manifest_missing_field(tmp_path, field):
    body = sb.manifest("m")
    del body[field]
    refused(identity_graph(tmp_path / "m.onnx", body), "invalid manifest", f"'{field}'")


def test_manifest_bad_values(tmp_path):
    refused(identity_graph(tmp_path / "a.onnx", sb.manifest("a", sample_rate=-5)), "'sample_rate'")
    refused(identity_graph(tmp_path / "b.onnx", sb.manifest("b", block_multiple=0)), "'block_multiple'")
    bad_knob = [{"name": "k", "min": 1, "max": 0, "default": 0.5, "unit": ""}]
    refused(identity_graph(tmp_path / "c.onnx", sb.manifest("c", params=bad_knob)), "min 1.0 must be below max 0.0")
    bad_step = [{"name": "k", "min": 0, "max": 1, "default": 0.5, "unit": "", "step": 2}]
    refused(identity_graph(tmp_path / "d.onnx", sb.manifest("d", params=bad_step)), "step 2.0 must be above 0")
    refused(identity_graph(tmp_path / "e.onnx", sb.manifest("e", latency_probe="sniff")), "'latency_probe' must be one of")
    knob = [{"name": "strength", "min": 0, "max": 1, "default": 1, "unit": ""}]
    refused(identity_graph(tmp_path / "f.onnx", sb.manifest("f", params=knob, latency_probe_params={"drive": 0})),
            "'latency_probe_params' names 'drive', which is not a knob (strength)")
    refused(identity_graph(tmp_path / "g.onnx", sb.manifest("g", params=knob, latency_probe_params={"strength": 2})),
            "strength 2.0 is outside [0.0, 1.0]")
    refused(identity_graph(tmp_path / "h.onnx", sb.manifest("h", latency_probe_params=[0])),
            "'latency_probe_params' must be an object")
    refused(identity_graph(tmp_path / "i.onnx", sb.manifest("i", latency_probe="onset", latency_probe_hz=5)),
            "'latency_probe_hz' 5.0 is outside [50, 1000] Hz")
    refused(identity_graph(tmp_path / "j.onnx", sb.manifest("j", latency_probe="onset", latency_probe_hz="low")),
            "latency_probe_hz must be a finite number")


def test_an_onset_probe_tone_round_trips_and_defaults_to_220_hz():
    from realtime.format.manifest import parse_manifest

    named = parse_manifest(json.dumps(sb.manifest("k", latency_probe="onset", latency_probe_hz=110)), "k.onnx")
    assert named.latency_probe_hz == 110.0
    assert parse_manifest(named.to_json(), "k.onnx").latency_probe_hz == 110.0
    plain = parse_manifest(json.dumps(sb.manifest("l", latency_probe="onset")), "l.onnx")
    assert plain.latency_probe_hz == 220.0 and "latency_probe_hz" not in plain.to_json()


def test_a_stepped_knob_lands_on_its_steps(tmp_path):
    from realtime.format.manifest import ParamSpec

    transpose = ParamSpec("transpose", -24.0, 24.0, 0.0, "st", step=1.0)
    assert [transpose.clamp(v) for v in (3.4, 3.6, -30.0, 23.7)] == [3.0, 4.0, -24.0, 24.0]
    from realtime.format.manifest import parse_manifest

    body = sb.manifest("k", params=[{"name": "t", "min": -24, "max": 24, "default": 0, "unit": "st", "step": 1}])
    parsed = parse_manifest(json.dumps(body), "k.onnx")
    assert parsed.params[0].step == 1.0 and parse_manifest(parsed.to_json(), "again").params[0].step == 1.0


def test_unknown_schema(tmp_path):
    refused(identity_graph(tmp_path / "s.onnx", sb.manifest("s", schema=2)), "unknown manifest schema 2")


def passthrough(path, in_name: str, out_name: str, frames="frames"):
    """One Identity node from ``in_name`` to ``out_name``, shapes [1, frames]."""
    nodes = [helper.make_node("Identity", [in_name], [out_name])]
    inputs = [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, [1, frames])]
    outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, frames])]
    return sb.save_model(path, nodes, inputs, outputs, sb.manifest(path.stem))


def test_missing_audio_in(tmp_path):
    refused(passthrough(tmp_path / "noin.onnx", "x", "audio_out"), "no 'audio_in' input")


def test_missing_audio_out(tmp_path):
    refused(passthrough(tmp_path / "noout.onnx", "audio_in", "y"), "no 'audio_out' output")


def test_fixed_frames_axis(tmp_path):
    refused(passthrough(tmp_path / "fixed.onnx", "audio_in", "audio_out", frames=128), "fixed frames axis")


def test_unpaired_state(tmp_path):
    state = helper.make_tensor_value_info("state_in_0", TensorProto.FLOAT, [1, 4])
    refused(identity_graph(tmp_path / "u.onnx", sb.manifest("u"), extra_inputs=[state]), "unpaired state", "state_out_0")


def test_dynamic_state(tmp_path):
    state_in = helper.make_tensor_value_info("state_in_0", TensorProto.FLOAT, [1, "n"])
    state_out = helper.make_tensor_value_info("state_out_0", TensorProto.FLOAT, [1, "n"])
    nodes = [
        helper.make_node("Identity", ["audio_in"], ["audio_out"]),
        helper.make_node("Identity", ["state_in_0"], ["state_out_0"]),
    ]
    path = identity_graph(tmp_path / "d.onnx", sb.manifest("d"), extra_inputs=[state_in], extra_outputs=[state_out], nodes=nodes)
    refused(path, "static shape")


def test_state_changes_shape(tmp_path):
    state_in = helper.make_tensor_value_info("state_in_0", TensorProto.FLOAT, [1, 4])
    state_out = helper.make_tensor_value_info("state_out_0", TensorProto.FLOAT, [1, 5])
    nodes = [
        helper.make_node("Identity", ["audio_in"], ["audio_out"]),
        helper.make_node("Pad", ["state_in_0", "pads"], ["state_out_0"]),
    ]
    pads = numpy_helper.from_array(np.array([0, 0, 0, 1], np.int64), "pads")
    inputs = [helper.make_tensor_value_info("audio_in", TensorProto.FLOAT, [1, "frames"]), state_in]
    outputs = [helper.make_tensor_value_info("audio_out", TensorProto.FLOAT, [1, "frames"]), state_out]
    path = sb.save_model(tmp_path / "grow.onnx", nodes, inputs, outputs, sb.manifest("grow"), [pads])
    refused(path, "changes shape")


def test_non_float32_tensor(tmp_path):
    refused(identity_graph(tmp_path / "f64.onnx", sb.manifest("f64"), in_type=TensorProto.DOUBLE), "DOUBLE", "float32")


def test_params_size_disagrees_with_manifest(tmp_path, styles_dir):
    knobs = [
        {"name": "a", "min": 0, "max": 1, "default": 0, "unit": ""},
        {"name": "b", "min": 0, "max": 1, "default": 0, "unit": ""},
    ]
    model = onnx.load(str(styles_dir / "gain.onnx"))  # params is [1]
    body = json.loads(model.metadata_props[0].value)
    body["params"] = knobs
    model.metadata_props[0].value = json.dumps(body)
    path = tmp_path / "two_knobs.onnx"
    onnx.save(model, str(path))
    refused(path, "'params' input has shape [1]", "2 knob(s)")
    no_params = identity_graph(tmp_path / "np.onnx", sb.manifest("np", params=knobs))
    refused(no_params, "no 'params' input")


def test_external_data_outside_folder(tmp_path):
    inner = tmp_path / "style"
    inner.mkdir()
    (tmp_path / "secret.bin").write_bytes(np.ones(4, np.float32).tobytes())
    weight = numpy_helper.from_array(np.ones((1, 1), np.float32), "w")
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("raw_data")
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "4")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    nodes = [helper.make_node("Mul", ["audio_in", "w"], ["audio_out"])]
    inputs = [helper.make_tensor_value_info("audio_in", TensorProto.FLOAT, [1, "frames"])]
    outputs = [helper.make_tensor_value_info("audio_out", TensorProto.FLOAT, [1, "frames"])]
    path = sb.save_model(inner / "escape.onnx", nodes, inputs, outputs, sb.manifest("escape"), [weight])
    refused(path, "outside the style's folder", "../secret.bin")


def test_old_opset(tmp_path):
    refused(identity_graph(tmp_path / "o.onnx", sb.manifest("o"), opset=13), "opset 13 is too old")


def test_custom_operator(tmp_path):
    path = identity_graph(tmp_path / "c.onnx", sb.manifest("c"), domain="com.example")
    model = onnx.load(str(path))
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(model, str(path))
    refused(path, "custom operator 'com.example::Identity'")


def test_runner_carries_state_and_clamps_knobs(styles_dir):
    runner = StyleRunner(load_style(styles_dir / "gain.onnx"), max_frames=256)
    runner.set_params([100.0])  # clamped to the manifest's max, +24 dB
    runner.input_view(4)[...] = 0.5
    assert np.allclose(runner.run(4), 0.5 * 10 ** (24 / 20), rtol=1e-5)


def test_a_style_saved_at_a_newer_ir_version_loads_when_its_opset_allows(tmp_path):
    """onnx.helper.make_model writes the newest IR version, which ONNX Runtime may not read yet."""
    nodes = [onnx.helper.make_node("Identity", ["audio_in"], ["audio_out"])]
    io = ([sb.audio_info("audio_in", 1)], [sb.audio_info("audio_out", 1)])
    path = sb.save_model(tmp_path / "newer.onnx", nodes, *io, sb.manifest("newer"), ir_version=None)
    assert onnx.load(str(path)).ir_version >= onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", 17)])
    runner = StyleRunner(load_style(path), max_frames=256)
    runner.input_view(64)[...] = 0.25
    assert np.all(runner.run(64) == 0.25)
    assert onnx.load(str(path)).ir_version == onnx.IR_VERSION  # the file itself is left as it was


def test_a_style_needing_a_newer_ir_is_refused_in_one_line(tmp_path, monkeypatch):
    from realtime.engine import runner as runner_module

    nodes = [onnx.helper.make_node("Identity", ["audio_in"], ["audio_out"])]
    io = ([sb.audio_info("audio_in", 1)], [sb.audio_info("audio_out", 1)])
    newest = onnx.defs.onnx_opset_version()
    path = sb.save_model(tmp_path / "future.onnx", nodes, *io, sb.manifest("future"), opset=newest, ir_version=None)
    needed = onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", newest)])
    real_session = runner_module.ort.InferenceSession

    def older_runtime(source, *args, **kwargs):  # an ONNX Runtime that reads one IR version less
        model = onnx.load(str(source)) if isinstance(source, str) else onnx.load_from_string(source)
        if model.ir_version >= needed:
            raise RuntimeError(f"[ONNXRuntimeError] : 1 : FAIL : model.cc:256 onnxruntime::Model::Model(...) "
                               f"Unsupported model IR version: {model.ir_version}, max supported IR version: {needed - 1}\n")
        return real_session(source, *args, **kwargs)

    monkeypatch.setattr(runner_module.ort, "InferenceSession", older_runtime)
    with pytest.raises(StyleFormatError) as caught:
        StyleRunner(load_style(path), max_frames=256)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert f"needs IR {needed}" in message and f"reads up to IR {needed - 1}" in message and "onnxruntime::" not in message


def test_a_name_resolves_without_parsing_unchanged_styles_again(tmp_path, monkeypatch):
    """``stylerack run`` reads every style before the audio starts; a 'style NAME' command
    while it runs parses no unchanged file (parsing holds the GIL the style worker needs),
    and a file changed on disk is read again."""
    from realtime.format import catalog

    sb.make_gain(tmp_path / "loud.onnx", default_db=6.0)
    sb.make_delay(tmp_path / "late.onnx", 5)
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    parsed: list[str] = []

    def counting_load(path):
        parsed.append(Path(path).name)
        return load_style(path)

    monkeypatch.setattr(catalog, "load_style", counting_load)
    catalog.discover([tmp_path])
    assert {"loud.onnx", "late.onnx", "broken.onnx"} <= set(parsed)
    parsed.clear()
    assert catalog.resolve("late", [tmp_path]).manifest.latency_samples == 5
    with pytest.raises(StyleFormatError, match="broken.onnx"):
        catalog.resolve("broken", [tmp_path])
    assert not [name for name in parsed if (tmp_path / name).exists()]
    sb.make_delay(tmp_path / "late.onnx", 120)  # changed on disk (here its size changes too)
    assert catalog.resolve("late", [tmp_path]).manifest.latency_samples == 120
    assert parsed.count("late.onnx") == 1
