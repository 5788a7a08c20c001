"""`stylerack run` on a real audio server: a JACK dummy server at 48 kHz / 128 frames, and a
second JACK client that plays into StyleRack's inputs and records its outputs."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from realtime.engine import Engine, EngineConfig
from tests.conftest import noise, stream
from tests.jack_harness import RATE, HostProcess, JackServer, JackTester, jack_missing_reason

reason = jack_missing_reason()
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


@pytest.fixture(scope="module")
def server():
    jack_server = JackServer(f"stylerack-test-{os.getpid()}")
    yield jack_server
    jack_server.stop()


@pytest.fixture()
def tester(server):
    client = JackTester(server)
    yield client
    client.close()


@pytest.mark.parametrize("mode", ["direct", "buffered"])
@pytest.mark.parametrize("block", ["0", "128"])
def test_round_trip_equals_reported_latency(server, tester, styles_dir, tmp_path, mode, block):
    host = HostProcess(server, tmp_path / "stats.json", "--style", str(styles_dir / "delay37.onnx"), "--mode", mode, "--block", block)
    tester.connect_host()
    signal = np.zeros(RATE, np.float32)
    signal[12000] = 0.5
    recorded = tester.play_and_record(signal)
    stats = host.finish()
    measured = int(np.argmax(np.abs(recorded))) - 12000
    assert abs(recorded.max() - 0.5) < 1e-6
    assert measured == stats["total_latency_samples"], stats
    assert stats["total_latency_samples"] == stats["device_latency_samples"] + stats["algorithmic_latency_samples"]
    if mode == "direct":
        assert stats["algorithmic_latency_samples"] == 37  # the style's own delay, nothing added
    else:
        assert stats["algorithmic_latency_samples"] == 37 + stats["engine_block_frames"]  # one block of margin
    assert stats["engine_block_frames"] == 128  # --block 0 found the server's period


def test_live_output_equals_offline_render_and_rare_xruns_in_30_s(server, tester, styles_dir, tmp_path):
    style = styles_dir / "delay37.onnx"
    host = HostProcess(server, tmp_path / "stats.json", "--style", str(style), "--mode", "buffered", "--block", "128")
    tester.connect_host()
    source = noise(10 * RATE, seed=11, level=0.4)[:, 0]
    recorded = tester.play_and_record(np.concatenate([source, np.zeros(RATE, np.float32)]))
    server_xruns_while_recording = tester.xruns
    # JACK reports an xrun to every client when any client is late, and the tester is Python
    # too: the 30 s xrun window starts once StyleRack is alone on the server.
    tester.close()
    # The goal is zero. On this 2-core VM the whole process is now and then not scheduled for
    # a period (about one xrun per 30-60 s idle, measured); such a stall shows as an xrun with a
    # late block at the same callback, and once in a while they come in a burst (10 in one
    # window, seen once in CI). What this test holds to: the worker never falls behind on its
    # own (no late block without an xrun) and stalls stay rare: a second window is measured
    # only when the first had more than 2.
    for window in range(2):
        before, after = stats_window(host, 30.0)
        assert after["callbacks"] - before["callbacks"] >= 29 * RATE // 128
        xruns, late = after["xruns"] - before["xruns"], after["late_blocks"] - before["late_blocks"]
        if xruns <= 2:
            break
    stats = host.finish()
    events = (after["xrun_callbacks"], after["late_block_callbacks"], before["callbacks"], window)
    assert late <= xruns <= 2, events

    engine = Engine(EngineConfig(sample_rate=RATE, block_frames=128))
    engine.load(style)
    engine.jump_to_targets()
    offline = stream(engine, np.concatenate([source, np.zeros(1000, np.float32)])[:, None], 128)[:, 0]
    offline = offline[engine.latency.total_frames :][: len(source)]  # aligned with the input
    delay = stats["total_latency_samples"]
    live = recorded[delay : delay + len(source)]
    # Sample for sample, except the few periods a stall on the server disturbed (a stall that
    # JACK reports as an xrun to the tester or StyleRack): each may spoil at most a few
    # periods, and the audio must be aligned again right after it.
    periods = len(source) // 128
    differs = np.abs(live - offline)[: periods * 128].reshape(periods, 128).max(axis=1) >= 1e-4
    # One stall is reported to every client (the tester and StyleRack) and often shows in
    # StyleRack as an xrun and a late block at once: count events, not reports.
    stalls = max(server_xruns_while_recording, before["xruns"], before["late_blocks"])
    detail = (
        f"periods differing: {np.flatnonzero(differs)[:20].tolist()}, stalls while recording: {stalls} "
        f"(tester {server_xruns_while_recording}, host xruns {before['xruns']}, late {before['late_blocks']})"
    )
    assert stalls <= 5, detail  # rare: at most 5 in the 11 s recording
    assert differs.sum() <= 4 * stalls, detail
    assert longest_run(differs) <= 4, detail  # aligned again after each stall


def stats_window(host: HostProcess, seconds: float) -> tuple[dict, dict]:
    """The host's counters at the start and the end of ``seconds`` of running."""
    host.command("stats")
    before = json.loads(host.wait_for("{"))
    time.sleep(seconds)
    host.command("stats")
    return before, json.loads(host.wait_for("{"))


def longest_run(flags: np.ndarray) -> int:
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


def test_switching_mixing_and_bypass_while_running_do_not_click(server, tester, styles_dir, tmp_path):
    # A stall of the whole VM (reported as an xrun) drops audio whatever the host does; the
    # scenario is played a second time only when the first run reported one.
    for attempt in range(2):
        recorded, stats, errors, replies, seconds = play_switching_scenario(server, tester, styles_dir, tmp_path / str(attempt))
        if stats["xruns"] == 0 and tester.xruns == 0:
            break
        tester.xruns = 0
    assert "no style named 'no-such-style'" in errors and "mix needs a number, got 'loud'" in errors
    assert len(replies) == 6 and stats["late_blocks"] == 0
    steady = recorded[RATE // 2 : int((seconds - 0.2) * RATE)]
    amplitude, frequency = 0.4, 220.0
    own_step = amplitude * 2 * np.pi * frequency / RATE
    assert np.abs(steady).max() > 0.3  # the delay style and bypass play at full level
    assert np.abs(np.diff(steady)).max() <= own_step * 1.05


def play_switching_scenario(server, tester, styles_dir, folder):
    """A 220 Hz sine through `run` while a script switches styles, mixes and bypasses."""
    folder.mkdir()
    # Margin 3: preparing the new style in the control thread holds the GIL for a few ms at a
    # time, which starves a worker with a margin of one block (late blocks, then dry audio).
    host = HostProcess(
        server, folder / "stats.json", "--style", str(styles_dir / "gain.onnx"), "--param", "gain=-6",
        "--mode", "buffered", "--margin", "3", "--block", "128", "--styles-dir", str(styles_dir),
    )
    tester.connect_host()
    seconds = 6.0
    t = np.arange(int(seconds * RATE)) / RATE
    sine = (0.4 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    script = [
        (1.0, "style delay37"), (1.5, "style no-such-style"), (2.0, "mix 0.3"), (2.2, "mix loud"), (2.5, "mix 1"),
        (3.0, "bypass on"), (4.0, "bypass off"), (4.5, "style gain"),
    ]

    def send() -> None:
        begun = time.monotonic()
        for at, line in script:
            time.sleep(max(0.0, at - (time.monotonic() - begun)))
            host.command(line)

    sender = threading.Thread(target=send)
    sender.start()
    recorded = tester.play_and_record(sine)
    sender.join()
    replies = [host.wait_for(prefix) for prefix in ("style 'delay37'", "mix 0.30", "mix 1.00", "bypass on", "bypass off", "style 'gain'")]
    stats = host.finish()
    return recorded, stats, host.process.stderr.read(), replies, seconds


def test_a_timbre_style_plays_live_with_its_declared_onset_latency(server, tester, tmp_path):
    from realtime.catalog import shipped_styles_dir
    from realtime.validate import ONSET_TOLERANCE_S, onset_delay

    host = HostProcess(server, tmp_path / "stats.json", "--style", str(shipped_styles_dir() / "violin.onnx"), "--block", "0")
    tester.connect_host()
    recorded = []
    measured = onset_delay(lambda tone: recorded.append(tester.play_and_record(tone)) or recorded[-1], RATE)
    stats = host.finish()
    assert np.isfinite(recorded[0]).all() and np.abs(recorded[0]).max() > 0.05  # it plays (xruns: the 30 s test)
    # the device's periods plus the style's declared onset latency (and nothing else at a 128 block)
    assert stats["total_latency_samples"] == stats["device_latency_samples"] + stats["algorithmic_latency_samples"]
    assert abs(measured - stats["total_latency_samples"]) <= ONSET_TOLERANCE_S * RATE, (measured, stats["total_latency_samples"])


def test_a_server_that_dies_is_reported_and_the_host_exits_cleanly(styles_dir, tmp_path):
    doomed = JackServer(f"stylerack-unplug-{os.getpid()}")
    try:
        host = HostProcess(doomed, tmp_path / "stats.json", "--style", str(styles_dir / "delay5.onnx"))
        time.sleep(1.0)
    finally:
        doomed.stop()
    host.process.wait(timeout=30)
    error = host.process.stderr.read()
    assert host.process.returncode == 1, error  # not an abort (134) or a hang
    assert "device gone or audio server stopped" in error
    stats = host.finish()
    assert stats["failure"] and stats["callbacks"] > 100


def test_device_mistakes_are_one_line_exit_2(server, styles_dir, tmp_path):
    import subprocess
    import sys

    style = str(styles_dir / "delay5.onnx")
    cases = [
        (["--samplerate", "44100"], "cannot run at 44100 Hz", "it supports: 48000"),
        (["--input", "no-such-mic"], "no input device matches 'no-such-mic'", "'system'"),
        (["--output", "99"], "output device #99 does not exist", ""),
    ]
    for extra, fragment, more in cases:
        result = subprocess.run(
            [sys.executable, "-m", "realtime.cli", "run", "--style", style, "--seconds", "1", *extra],
            capture_output=True, text=True, env=server.env, timeout=60,
        )
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("stylerack")]
        assert len(lines) == 1 and fragment in lines[0] and more in lines[0], result.stderr


def test_the_window_plays_the_demo_clip_to_the_output_ports(server, tester, styles_dir):
    import subprocess
    import sys

    env = dict(server.env, QT_QPA_PLATFORM="offscreen")
    window = subprocess.Popen(
        [sys.executable, "-m", "realtime.cli", "gui", "--start", "--seconds", "6", "--styles-dir", str(styles_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        tester.connect_host(timeout_s=30)
        recorded = tester.play_and_record(np.zeros(2 * RATE, np.float32))
    finally:
        out, err = window.communicate(timeout=30)
    assert window.returncode == 0, err
    assert np.abs(recorded).max() > 0.01  # the demo clip, through the style, reached the output ports
    assert np.isfinite(recorded).all() and np.abs(recorded).max() <= 1.0
