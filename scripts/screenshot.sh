#!/usr/bin/env bash
# Render the real window to docs/window.png for the README, with audio running: Qt's xcb
# platform on a virtual X server, a JACK dummy server as the audio device, the demo clip
# playing through the example rack (docs/racks/warm-radio.json) so the meters move.
# Needs Xvfb and jackd (scripts/setup.sh --dev). The user's own settings are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
server="stylerack-shot-$$"
jackd -n "$server" -d dummy -r 48000 -p 128 >"$scratch/jackd.log" 2>&1 &
jack_pid=$!
trap 'kill $jack_pid 2>/dev/null || true; wait $jack_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
sleep 1
export JACK_DEFAULT_SERVER="$server" JACK_NO_START_SERVER=1 XDG_CONFIG_HOME="$scratch/config"
QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x900x24" \
    .venv/bin/stylerack gui --rack docs/racks/warm-radio.json --start --seconds 3 --screenshot docs/window.png
