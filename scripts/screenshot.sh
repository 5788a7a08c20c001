#!/usr/bin/env bash
# Render the real window (Qt's xcb platform on a virtual X server, shipped styles, demo input
# off) to docs/window.png for the README. Needs Xvfb (scripts/setup.sh --dev).
set -euo pipefail
cd "$(dirname "$0")/.."
QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/stylerack gui --screenshot docs/window.png
