#!/usr/bin/env bash
# Set everything up (as scripts/setup.sh --dev) and run every test, the live JACK tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
exec .venv/bin/python -m pytest "$@"
