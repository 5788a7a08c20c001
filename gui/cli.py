"""``stylerack gui``: open the window (registered through the stylerack.commands entry point)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
    from PyQt6.QtCore import QTimer

    window = MainWindow(Controller(args.styles_dir))
    if args.rack:
        window.controller.recall_rack(str(Path(args.rack).resolve()))
    window.show()
    if args.start:
        window.start_audio()
    if args.screenshot:
        def shoot() -> None:  # after the meters have had time to move
            window.grab().save(args.screenshot)
            print(f"wrote {args.screenshot}")
            window.close()

        QTimer.singleShot(int(1000 * (args.seconds if args.seconds is not None else (2.0 if args.start else 0.2))), shoot)
    elif args.seconds:
        QTimer.singleShot(int(args.seconds * 1000), window.close)
    return app.exec()


def register(subparsers) -> None:
    gui = subparsers.add_parser("gui", help="open the StyleRack window")
    gui.add_argument("--styles-dir", action="append", default=[], metavar="DIR")
    gui.add_argument("--rack", metavar="FILE.json", help="open with this rack")
    gui.add_argument("--start", action="store_true", help="start the audio at once")
    gui.add_argument("--seconds", type=float, help="close the window after this long")
    gui.add_argument("--screenshot", metavar="FILE.png",
                     help="render the window to a PNG and exit (after --seconds, default 2 with --start)")
    gui.set_defaults(func=cmd_gui)
