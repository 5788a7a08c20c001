"""The window, offscreen (pytest-qt): the rack's cards and the engine follow each other,
style switching, refusals, saved racks, drag reorder, recording, device errors, keyboard."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

pytest.importorskip("PyQt6.QtWidgets", reason="PyQt6 is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")

from PyQt6.QtCore import Qt  # noqa: E402

from gui import controller as controller_module  # noqa: E402
from gui.controller import Controller  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from realtime.live.devices import DeviceChoice  # noqa: E402
from realtime.engine import Engine, EngineConfig  # noqa: E402
from realtime.errors import DeviceError  # noqa: E402


class FakeHost:
    """A LiveHost without a device: the test drives the engine's callback itself."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.engine = Engine(EngineConfig(sample_rate=48000, block_frames=128))
        self.devices = DeviceChoice(0, 0, "Test In", "Test Out", 1, 1, 48000.0, 0.003)
        self.demo = None

    def set_demo_input(self, enabled):
        self.demo = enabled

    def start(self):
        self.engine.start()

    def stop(self):
        self.engine.stop()

    def poll(self):
        return None

    def start_recording(self, path, overwrite=False):
        from realtime.live.recorder import Recorder

        return Recorder(self.engine, path, overwrite=overwrite)

    def report(self):
        latency = self.engine.latency
        return {
            "sample_rate": 48000, "device_latency_samples": 0, "algorithmic_latency_samples": latency.total_frames,
            "engine_block_frames": 128, "total_latency_ms": latency.total_ms, "total_latency_samples": latency.total_frames,
            "style_time_median_us": 10.0, "style_time_p99_us": 20.0, "xruns": 0, "late_blocks": 0, "provider": "CPU",
            "worker_wake_p99_us": 30.0, "callbacks": self.engine.stats.callbacks, "over_budget_callbacks": 0,
            "input_peak": self.engine.stats.input_peak, "input_rms": self.engine.stats.input_rms,
            "output_peak": self.engine.stats.output_peak, "output_rms": self.engine.stats.output_rms,
            "slot_peaks": self.engine.slot_peaks(),
            "latency_parts": [[name, 1000.0 * frames / 48000] for name, frames in latency.parts],
        }

    def play(self, blocks: int) -> None:
        block = np.full((128, 1), 0.1, np.float32)
        out = np.zeros_like(block)
        for _ in range(blocks):
            self.engine.process(block, out)


@pytest.fixture()
def window(qtbot, styles_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(controller_module, "racks_dir", lambda: tmp_path / "racks")
    controller = Controller([str(styles_dir)], host_factory=FakeHost)
    win = MainWindow(controller, device_lister=lambda: [], settings_file=tmp_path / "window.ini")
    qtbot.addWidget(win)
    return win


def engine_names(controller) -> list[str]:
    return [s.style_name.rsplit("/", 1)[-1].removesuffix(".onnx") for s in controller.host.engine.rack.slots]


def test_master_mix_binds_both_ways(window, qtbot):
    window.controller.select_style("gain")
    assert window.controller.start()
    window.mix.mix.setValue(40)
    assert window.controller.mix_percent == 40
    assert window.controller.host.engine._mix_target == pytest.approx(0.4)
    window.controller.set_mix_percent(70)
    qtbot.waitUntil(lambda: window.mix.mix.value() == 70)
    assert window.mix.mix_label.text() == "Mix 70%"


def test_knobs_are_generated_on_the_card_and_bound(window, qtbot):
    c = window.controller
    c.select_style("gain")
    assert c.start()
    qtbot.waitUntil(lambda: window.rack.card(1) is not None and "gain" in window.rack.card(1).knobs)
    slider, label, spec = window.rack.card(1).knobs["gain"]
    slider.setValue(150)  # 3/4 of the range -24..24 dB
    assert c.rack.slots[0].params["gain"] == pytest.approx(12.0)
    assert c.host.engine.rack.slots[0].params["gain"] == pytest.approx(12.0)
    c.set_param("gain", -24.0)
    qtbot.waitUntil(lambda: slider.value() == 0)


def test_cards_follow_the_rack_and_the_engine_follows_the_cards(window, qtbot):
    c = window.controller
    c.select_style("delay37")
    assert c.start()
    c.add_slot("gain", wait=True)
    c.add_slot("delay5", 2, wait=True)
    qtbot.waitUntil(lambda: len(window.rack.cards) == 3)
    assert [card.title.text() for card in window.rack.cards] == ["1  delay37", "2  delay5", "3  gain"]
    assert engine_names(c) == ["delay37", "delay5", "gain"]
    assert "5 samples" not in window.rack.card(2).detail.text() and "0.1 ms" in window.rack.card(2).detail.text()
    window.rack.card(3).mix.setValue(30)  # card -> engine
    assert c.host.engine.rack.slots[2].mix == pytest.approx(0.3)
    window.rack.card(1).bypass.setChecked(True)
    assert c.host.engine.rack.slots[0].bypass
    c.set_slot_bypass(1, False)  # controller -> card
    qtbot.waitUntil(lambda: not window.rack.card(1).bypass.isChecked())
    c.set_slot_mix_percent(2, 55)
    qtbot.waitUntil(lambda: window.rack.card(2).mix.value() == 55)
    window.rack.card(2).remove.click()
    qtbot.waitUntil(lambda: len(window.rack.cards) == 2)
    assert engine_names(c) == ["delay37", "gain"]
    c.host.play(20)
    report = c.poll()
    assert len(report["slot_peaks"]) == 2 and report["slot_peaks"][1] > 0.0
    assert [name for name, _ in report["latency_parts"]] == ["delay37", "gain"]
    window.poll()
    assert window.latency.text().startswith("latency ") and "delay37 0.8" in window.latency.text()


def test_dragging_a_card_reorders_the_rack(window, qtbot):
    from PyQt6.QtCore import QMimeData, QPointF
    from PyQt6.QtGui import QDropEvent

    from gui.widgets.rack_view import SLOT_MIME

    c = window.controller
    for name in ("delay37", "gain", "delay5"):
        c.add_slot(name)
    c.remove_slot(1)  # the first style the window put in
    assert c.start()
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: len(window.rack.cards) == 3 and window.rack.cards[2].geometry().x() > 0)
    data = QMimeData()
    data.setData(SLOT_MIME, b"1")
    right_of_last = QPointF(window.rack.cards[2].geometry().right() + 5, 20)
    event = QDropEvent(right_of_last, Qt.DropAction.MoveAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.rack.drop(event)
    qtbot.waitUntil(lambda: [s.name for s in c.slots()] == ["gain", "delay5", "delay37"])
    qtbot.waitUntil(lambda: engine_names(c) == ["gain", "delay5", "delay37"])
    # the cards are rebuilt on a later pass of the event loop than the controller's change
    qtbot.waitUntil(lambda: [card.title.text() for card in window.rack.cards][2:] == ["3  delay37"])


def test_style_switching_from_the_list_fills_the_selected_slot(window, qtbot):
    c = window.controller
    c.add_slot("gain")
    assert c.start()
    c.select_slot(2)
    names = window.browser.visible_names()
    item = window.browser.list.item(names.index("delay37"))
    window.browser.list.itemClicked.emit(item)
    qtbot.waitUntil(lambda: [s.name for s in c.slots()][1] == "delay37", timeout=5000)
    qtbot.waitUntil(lambda: window.browser.current.text() == "delay37")
    assert engine_names(c)[1] == "delay37" and len(c.rack.slots) == 2


def test_a_refused_style_shows_why_and_keeps_the_old_one(window, qtbot, tmp_path):
    window.controller.select_style("delay5")
    window.controller.start()
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    window.controller.select_style(str(bad), wait=True)
    qtbot.waitUntil(lambda: "not an ONNX model" in window.devices.message.text(), timeout=5000)
    assert window.controller.selected_slot().name == "delay5"
    assert window.controller.host.engine.current.name == "delay5"


def test_racks_save_and_recall(window, qtbot, tmp_path):
    c = window.controller
    c.select_style("gain")
    c.add_slot("delay37")
    c.set_mix_percent(35)
    c.set_param("gain", 6.0, 1)
    c.set_slot_bypass(2, True)
    c.set_output_gain_db(-3.0)
    assert c.save_rack("quiet boost")
    assert not c.save_rack("quiet boost")  # never written over without asking
    qtbot.waitUntil(lambda: "already exists" in window.devices.message.text())
    assert c.start()
    c.remove_slot(2, wait=True)
    c.select_style("identity", wait=True)
    c.set_mix_percent(100)
    c.set_output_gain_db(0.0)
    c.recall_rack("quiet boost")
    assert [s.name for s in c.slots()] == ["gain", "delay37"]
    assert (c.mix_percent, c.rack.output_gain_db) == (35, -3.0)
    assert c.rack.slots[0].params == {"gain": 6.0} and c.rack.slots[1].bypass
    assert engine_names(c) == ["gain", "delay37"] and c.host.engine.rack.slots[0].params == {"gain": 6.0}
    qtbot.waitUntil(lambda: window.mix.mix.value() == 35)
    assert window.session.racks.findText("quiet boost") >= 0
    (tmp_path / "racks" / "broken.json").write_text("{")
    c.recall_rack("broken")
    qtbot.waitUntil(lambda: "broken JSON" in window.devices.message.text())
    assert engine_names(c) == ["gain", "delay37"]  # still playing what it had


def test_recording_writes_a_readable_wav_of_the_expected_length(window, tmp_path):
    c = window.controller
    c.select_style("identity")
    assert c.start()
    path = tmp_path / "take.wav"
    assert c.start_recording(path)
    c.host.play(100)
    assert c.stop_recording() == path
    data, rate = sf.read(path)
    assert rate == 48000 and len(data) == 100 * 128
    assert np.allclose(data, 0.1, atol=1e-6)


def test_device_errors_surface_as_messages(qtbot, styles_dir, tmp_path, monkeypatch):
    def broken(settings):
        raise DeviceError("output device 'Speakers' cannot run at 44100 Hz; it supports: 48000")

    controller = Controller([str(styles_dir)], host_factory=broken)
    win = MainWindow(controller, device_lister=lambda: [], settings_file=tmp_path / "window.ini")
    qtbot.addWidget(win)
    win.devices.start.click()
    qtbot.waitUntil(lambda: "cannot run at 44100 Hz" in win.devices.message.text())
    assert controller.host is None and win.devices.start.text() == "Start"


def test_keyboard_space_bypasses_the_slot_and_shift_space_the_rack(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    c = window.controller
    c.add_slot("gain")
    c.select_slot(2)
    first = c.selected_slot().name
    window.browser.list.setFocus()
    qtbot.keyClick(window.browser.list, Qt.Key.Key_Space)
    assert c.rack.slots[1].bypass and not c.rack.slots[0].bypass and not c.rack.bypass
    qtbot.waitUntil(lambda: window.rack.card(2).bypass.isChecked())
    qtbot.keyClick(window.browser.list, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
    assert c.rack.bypass and window.mix.bypass.isChecked()
    qtbot.keyClick(window.browser.list, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: c.selected_slot().name != first)
    assert len(c.rack.slots) == 2
    c.set_mix_percent(50)
    qtbot.keyClick(window.browser.list, Qt.Key.Key_Minus)
    assert c.mix_percent == 45


def test_settings_and_the_rack_persist_between_runs(qtbot, styles_dir, tmp_path):
    ini = tmp_path / "window.ini"
    first = MainWindow(Controller([str(styles_dir)], host_factory=FakeHost), device_lister=lambda: [], settings_file=ini)
    qtbot.addWidget(first)
    first.devices.block.setCurrentText("256")
    first.devices.margin.setCurrentText("2 blocks")
    first.controller.select_style("delay37")
    first.controller.add_slot("gain")
    first.controller.set_slot_mix_percent(2, 20)
    first.controller.set_mix_percent(42)
    first.close()
    second = MainWindow(Controller([str(styles_dir)], host_factory=FakeHost), device_lister=lambda: [], settings_file=ini)
    qtbot.addWidget(second)
    assert second.devices.block.currentText() == "256" and second.devices.margin.currentText() == "2 blocks"
    assert [s.name for s in second.controller.slots()] == ["delay37", "gain"] and second.mix.mix.value() == 42
    assert second.rack.card(2).mix.value() == 20


def test_no_display_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "realtime.cli", "gui"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display found" in lines[0] and "stylerack run" in lines[0]


def test_a_missing_xcb_library_is_named_with_its_package(monkeypatch):
    from gui import platform_check

    monkeypatch.setitem(platform_check.XCB_LIBRARIES, "libxcb-not-there.so.9", "libxcb-not-there9")
    problem = platform_check.platform_problem({"DISPLAY": ":99"}, "linux")
    assert "libxcb-not-there.so.9" in problem and "apt-get install" in problem and "libxcb-not-there9" in problem
    assert platform_check.platform_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None


def test_match_a_reference_fits_saves_and_plays_the_style(window, qtbot, tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="matching needs the train extra")
    pytest.importorskip("pyloudnorm", reason="matching needs the train extra")
    from pathlib import Path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the user's styles folder
    demo = Path(__file__).resolve().parents[1] / "realtime" / "live" / "demo.flac"
    c = window.controller
    c.select_style("delay37")
    assert c.start()
    dialog = window.match_reference()
    dialog.references.setText(str(demo))
    dialog.name.setText("like-demo")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("saved"), timeout=120_000)
    saved = tmp_path / "data" / "stylerack" / "styles" / "like-demo.onnx"
    assert saved.exists() and not dialog.plot.pixmap().isNull()
    assert c.selected_slot().name == "like-demo" and engine_names(c) == ["like-demo"]
    assert any(s.name == "like-demo" for s in c.styles)
    dialog.references.setText(str(tmp_path / "missing.wav"))
    dialog.name.setText("other")
    dialog.start()
    qtbot.waitUntil(lambda: "no such reference file" in dialog.status.text(), timeout=30_000)
    assert engine_names(c) == ["like-demo"]  # still playing what it had


def test_match_a_reference_asks_before_replacing_any_file_it_would_write(window, qtbot, tmp_path, monkeypatch):
    """A stray NAME.json (no NAME.onnx) in the user's styles folder: the dialog names it and asks;
    answered No, nothing runs and the file is kept."""
    from PyQt6.QtWidgets import QMessageBox

    from gui.widgets import match_dialog

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = window.controller.add_styles_folder()
    (folder / "mine.json").write_text("the user's notes")
    asked = []
    monkeypatch.setattr(match_dialog.QMessageBox, "question",
                        lambda parent, title, text: asked.append(text) or QMessageBox.StandardButton.No)
    dialog = window.match_reference()
    dialog.references.setText(str(tmp_path / "reference.wav"))
    dialog.name.setText("mine")
    dialog.start()
    assert len(asked) == 1 and "mine.json" in asked[0] and "mine.onnx" not in asked[0]
    assert dialog.fit.isEnabled() and (folder / "mine.json").read_text() == "the user's notes"
    dialog.name.setText("free")
    dialog.start()
    assert len(asked) == 1  # nothing of 'free' there: no question, the fit runs (and refuses the missing file)
    qtbot.waitUntil(lambda: "no such reference file" in dialog.status.text(), timeout=30_000)


def test_voice_styles_have_their_category_and_knobs_in_whole_steps(window, qtbot):
    """The shipped voice styles are in the browser under 'voice'; pitch moves in semitones and
    formant in half semitones, as their manifests' ``step`` says."""
    browser = window.browser
    assert "voice" in [browser.category.itemText(i) for i in range(browser.category.count())]
    c = window.controller
    c.select_style("feminine")
    assert c.start()
    qtbot.waitUntil(lambda: window.rack.card(1) is not None and "pitch" in window.rack.card(1).knobs)
    pitch, _, _ = window.rack.card(1).knobs["pitch"]
    formant, _, _ = window.rack.card(1).knobs["formant"]
    assert (pitch.maximum(), formant.maximum()) == (24, 16)
    assert pitch.value() == 18  # the style's default, +6 semitones
    pitch.setValue(19)
    assert c.rack.slots[0].params["pitch"] == pytest.approx(7.0)
    formant.setValue(3)
    assert c.host.engine.rack.slots[0].params["formant"] == pytest.approx(-2.5)


def test_late_blocks_that_keep_coming_are_told_in_the_status_bar(window, qtbot, monkeypatch):
    """The style keeps missing its margin (late blocks, no xruns): the window says so, with the
    margin setting that would fit, where the performer sets it."""
    import realtime.live.lateness as lateness

    monkeypatch.setattr(lateness, "WINDOW_S", 0.0)  # compare on every poll instead of every 5 s
    c = window.controller
    c.select_style("gain")
    assert c.start()
    plain = c.host.report
    window.poll()
    assert "late blocks" not in window.statusBar().currentMessage()
    c.host.report = lambda: dict(plain(), late_blocks=12, style_time_p99_us=2400.0, worker_wake_p99_us=500.0)
    window.poll()
    message = window.statusBar().currentMessage()
    assert message.startswith("12 late blocks in the last"), message
    assert "try a style margin of 2 blocks (Audio setup)" in message
