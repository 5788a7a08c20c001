"""``python -m gui.exercise``: the window playing live audio while a script works it, for the
live tests and ``bench/live_load.py``.

The window (offscreen or on a display) starts the audio on the default devices, then every
``--switch-every`` seconds picks the next of ``--styles`` and every ``--slide-every`` seconds
moves the mix slider, as a performer would, while its meter timers run. ``--gil-hold-ms``
adds a thread of pure Python that holds the GIL for stretches that long (a stand-in for any
code that keeps the interpreter busy: a plug-in, a slow handler, the garbage collector). At
the end (after ``--seconds``, or when a line or end-of-file arrives on stdin) the host's
counters are written to ``--stats`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path


def hold_the_gil(stop: threading.Event, hold_s: float) -> None:
    """Pure Python that gives the GIL away only every ``hold_s`` (the switch interval)."""
    sys.setswitchinterval(hold_s)
    while not stop.is_set():
        total = 0
        for value in range(20_000):
            total += value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.exercise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--styles", default="fuzz,tube-drive", help="comma-separated style names to cycle through")
    parser.add_argument("--styles-dir", action="append", default=[], metavar="DIR")
    parser.add_argument("--switch-every", type=float, default=2.0, help="seconds between style switches (0: never)")
    parser.add_argument("--slide-every", type=float, default=0.25, help="seconds between mix slider moves (0: never)")
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--margin", type=int, default=1)
    parser.add_argument("--demo", action="store_true", help="play the demo clip instead of the input")
    parser.add_argument("--gil-hold-ms", type=float, default=0.0, help="a thread holds the GIL this long at a time")
    parser.add_argument("--stats", metavar="FILE.json", required=True)
    args = parser.parse_args(argv)

    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from gui.controller import Controller
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    names = [name for name in args.styles.split(",") if name]
    with tempfile.TemporaryDirectory() as scratch:
        window = MainWindow(Controller(args.styles_dir), settings_file=Path(scratch) / "window.ini")
        controller = window.controller
        controller.select_style(names[0])
        controller.set_demo_input(args.demo)
        blocks = window.devices.block
        blocks.setCurrentIndex(next(i for i in range(blocks.count()) if blocks.itemText(i).split()[0] == str(args.block)))
        if hasattr(window.devices, "margin"):  # (a window of an older StyleRack has none, for the benchmark)
            window.devices.margin.setCurrentIndex(args.margin - 1)
        window.show()
        window.start_audio()
        if controller.host is None:
            print(f"gui.exercise: the audio did not start: {window.devices.message.text()}", file=sys.stderr)
            return 2
        print("running", flush=True)
        stop = threading.Event()
        state = {"style": 0, "slide": 0}

        def switch_styles() -> None:  # a script beside the window (a plain thread, as a hotkey tool would be)
            while not stop.wait(args.switch_every):
                state["style"] = (state["style"] + 1) % len(names)
                controller.select_style(names[state["style"]], wait=True)

        def slide() -> None:
            state["slide"] += 1
            window.mix.mix.setValue(60 + 40 * (state["slide"] % 2))

        slider = QTimer()
        slider.timeout.connect(slide)
        if args.slide_every > 0:
            slider.start(int(args.slide_every * 1000))
        if args.switch_every > 0:
            threading.Thread(target=switch_styles, daemon=True).start()
        if args.gil_hold_ms > 0:
            threading.Thread(target=hold_the_gil, args=(stop, args.gil_hold_ms / 1000), daemon=True).start()
            # the stress ends on time even though it starves the window's own timers
            timer = threading.Timer(args.seconds, stop.set)
            timer.daemon = True
            timer.start()

        finished = threading.Event()

        def finish() -> None:
            if finished.is_set():
                return
            finished.set()
            stop.set()
            sys.setswitchinterval(0.001)
            Path(args.stats).write_text(json.dumps(controller.host.report(), indent=2) + "\n")
            window.close()

        quit_requested = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.readline(), quit_requested.set()), daemon=True).start()
        watch = QTimer()
        watch.timeout.connect(lambda: (quit_requested.is_set() or stop.is_set()) and finish())
        watch.start(100)
        QTimer.singleShot(int(args.seconds * 1000), finish)
        return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
