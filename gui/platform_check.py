"""Can Qt open a window here? Checked before QApplication is made, because Qt's own answer to a
missing display or a missing library is to print several lines and abort the process.

Qt 6.5+ on Linux draws through its xcb platform plugin, which needs these X libraries (found
with ldd on PyQt6's libqxcb.so and libQt6XcbQpa.so, plus libxcb-cursor, which Qt loads by name).
scripts/setup.sh installs them as root; this module names the missing ones.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: soname -> Debian/Ubuntu package
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
}
HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc", "eglfs", "linuxfb"}


def missing_libraries() -> list[str]:
    """The xcb plugin's libraries that cannot be loaded here, by soname."""
    missing = []
    for soname in XCB_LIBRARIES:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def platform_problem(environ=os.environ, platform: str = sys.platform) -> str | None:
    """One line saying why no window can open here, or None when it can (or Qt will decide)."""
    if not platform.startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if chosen in HEADLESS_PLATFORMS or chosen.startswith("wayland") and environ.get("WAYLAND_DISPLAY"):
        return None
    if not chosen and environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return None  # Qt picks its wayland plugin
    if not environ.get("DISPLAY"):
        return "no display found (DISPLAY is not set): the window needs a desktop; 'stylerack run' works without one"
    missing = missing_libraries()
    if missing:
        packages = " ".join(XCB_LIBRARIES[name] for name in missing)
        return (
            f"Qt's xcb platform plugin cannot load {', '.join(missing)}; install them "
            f"(Debian/Ubuntu: apt-get install {packages}, or scripts/setup.sh as root), "
            "or use 'stylerack run' without a window"
        )
    return None
