"""The live tests' JACK tester, run in a process of its own (``tests.jack_harness.JackTester``
drives it): a client that plays a signal into StyleRack's input ports and records its first
output port, sample-aligned.

Its own process because its process callback is Python: in the test's process it would wait
for the GIL behind the test's threads (and be late more often), and closing a JACK client
cancels its callback thread, which can leave the GIL's lock held when that thread was waiting
for it (a test run here hung that way). A hang here is killed by the driver instead.

Commands, one per line on stdin, each answered with one JSON line on stdout:
``connect TIMEOUT_S``; ``play SIGNAL.npy RECORDED.npy TIMEOUT_S`` (answers the xruns reported
since the last answer and where in the signal each came); ``close``.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import jack
import numpy as np


class Tester:
    def __init__(self, server_name: str) -> None:
        self.client = jack.Client("srtester", servername=server_name, no_start_server=True)
        self.play = self.client.outports.register("play")
        self.rec = self.client.inports.register("rec")
        self._signal = np.zeros(0, np.float32)
        self._recorded = np.zeros(0, np.float32)
        self._position = 0
        self._running = False
        self._done = threading.Event()
        self.xruns = 0
        self.xrun_positions: list[int] = []
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _process(self, frames: int) -> None:
        out = self.play.get_array()
        if not self._running:
            out.fill(0.0)
            return
        start = self._position
        count = min(frames, len(self._signal) - start)
        out[:count] = self._signal[start : start + count]
        out[count:] = 0.0
        self._recorded[start : start + count] = self.rec.get_array()[:count]
        self._position += frames
        if self._position >= len(self._signal):
            self._running = False
            self._done.set()

    def _xrun(self, delay_us: float) -> None:
        self.xruns += 1
        if self._running:
            self.xrun_positions.append(self._position)

    def connect(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            ins = [p for p in self.client.get_ports(is_audio=True, is_input=True) if p.name.startswith("PortAudio")]
            outs = [p for p in self.client.get_ports(is_audio=True, is_output=True) if p.name.startswith("PortAudio")]
            if ins and outs:
                break
            if time.monotonic() > deadline:
                return {"error": "StyleRack's JACK ports did not appear"}
            time.sleep(0.05)
        for port in ins:  # every input channel gets the signal (a mono style hears their average)
            self.client.connect(self.play, port)
        self.client.connect(outs[0], self.rec)
        return {}

    def play_and_record(self, signal_path: str, recorded_path: str, timeout_s: float) -> dict:
        self._signal = np.ascontiguousarray(np.load(signal_path), np.float32)
        self._recorded = np.zeros_like(self._signal)
        self._position = 0
        self.xrun_positions = []
        self._done.clear()
        self._running = True
        if not self._done.wait(timeout_s):
            self._running = False
            return {"error": "the recording did not finish"}
        np.save(recorded_path, self._recorded)
        reported, self.xruns = self.xruns, 0
        return {"xruns": reported, "xrun_positions": list(self.xrun_positions)}


def main() -> None:
    tester = Tester(sys.argv[1])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        verb, *args = line.split()
        if verb == "connect":
            answer = tester.connect(float(args[0]))
        elif verb == "play":
            answer = tester.play_and_record(args[0], args[1], float(args[2]))
        elif verb == "close":
            break
        else:
            answer = {"error": f"unknown command {verb!r}"}
        print(json.dumps(answer), flush=True)
    tester.client.deactivate()
    tester.client.close()
    print(json.dumps({"closed": True}), flush=True)


if __name__ == "__main__":
    main()
