"""``stylerack gui``: open the window (registered through the stylerack.commands entry point)."""

from __future__ import annotations

import argparse
import sys


def cmd_gui(args: argparse.Namespace) -> int:
    from gui.platform_check import platform_problem

    problem = platform_problem()
    if problem:
        print(f"stylerack: error: {problem}", file=sys.stderr)
        return 2
    from PyQt6.QtWidgets import QApplication

    from gui.controller import Controller
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("StyleRack")
    window = MainWindow(Controller(args.styles_dir))
    if args.screenshot:
        window.show()
        app.processEvents()
        window.grab().save(args.screenshot)
        print(f"wrote {args.screenshot}")
        window.close()
        return 0
    window.show()
    if args.start:
        window.start_audio()
    if args.seconds:
        from PyQt6.QtCore import QTimer

        QTimer.singleShot(int(args.seconds * 1000), window.close)
    return app.exec()


def register(subparsers) -> None:
    gui = subparsers.add_parser("gui", help="open the StyleRack window")
    gui.add_argument("--styles-dir", action="append", default=[], metavar="DIR")
    gui.add_argument("--start", action="store_true", help="start the audio at once")
    gui.add_argument("--seconds", type=float, help="close the window after this long")
    gui.add_argument("--screenshot", metavar="FILE.png", help="render the window to a PNG and exit")
    gui.set_defaults(func=cmd_gui)
