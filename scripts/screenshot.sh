#!/usr/bin/env bash
# Render the window (offscreen, shipped styles, demo input off) to docs/window.png for the README.
set -euo pipefail
cd "$(dirname "$0")/.."
QT_QPA_PLATFORM=offscreen .venv/bin/stylerack gui --screenshot docs/window.png
