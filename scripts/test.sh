#!/usr/bin/env bash
# Set everything up (as scripts/setup.sh --material: the --dev tools plus fluidsynth, a GM
# soundfont and espeak-ng) and run every test, the live JACK tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --material
exec .venv/bin/python -m pytest "$@"
