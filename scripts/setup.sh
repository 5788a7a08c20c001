#!/usr/bin/env bash
# Set StyleRack up in ./.venv. Usage: scripts/setup.sh [--dev] [--material]
#   --dev       also the test tools, the JACK audio server used by the live tests, and the
#               training extra (torch 2.13.0, CPU build).
#   --material  also fluidsynth, a General MIDI soundfont and espeak-ng, which
#               `stylerack train recipe` uses to make its training audio.
# System packages (PortAudio, libsndfile, and JACK with --dev) are installed when run as
# root on Debian/Ubuntu; otherwise the script names what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
material=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --material) material=1; dev=1 ;;
    *) echo "setup: unknown option '$arg' (use --dev, --material)" >&2; exit 2 ;;
  esac
done

need=(libportaudio2 libsndfile1)
[ "$dev" = 1 ] && need+=(jackd2)
[ "$material" = 1 ] && need+=(fluidsynth fluid-soundfont-gm espeak-ng)
missing=()
for pkg in "${need[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v dpkg >/dev/null; then
    echo "setup: please install these system packages first (as root): apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[train,test]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "setup: ready ($(.venv/bin/stylerack --version))"
