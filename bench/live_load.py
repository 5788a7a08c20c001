"""Live xruns, late blocks and round-trip latency on a JACK dummy server, idle and under load.

    .venv/bin/python bench/live_load.py [--seconds 60] [--style PATH] [--json FILE]

For each mode (direct, buffered) and load (idle; both cores busy with one spinning process
each), it starts a JACK dummy server at 48 kHz / 128 frames, runs `stylerack run` with
the style (default: a 32-unit random GRU, the cost of a small amp model), measures the
round trip with an impulse from a second JACK client, and reads xruns and late blocks
from `--stats`. Needs jackd (scripts/setup.sh --dev).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.jack_harness import RATE, HostProcess, JackServer, JackTester  # noqa: E402
from tests.style_builders import make_gru  # noqa: E402

SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass\n"


def one_run(style: Path, mode: str, loaded: bool, seconds: float, work: Path) -> dict:
    server = JackServer(f"stylerack-bench-{os.getpid()}")
    hogs = []
    try:
        host = HostProcess(server, work / "stats.json", "--style", str(style), "--mode", mode, "--block", "128")
        tester = JackTester(server)
        tester.connect_host()
        impulse = np.zeros(RATE // 2, np.float32)
        impulse[6000] = 0.5
        recorded = tester.play_and_record(impulse)
        tester.close()
        started = time.monotonic()
        if loaded:
            hogs = [subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=seconds)]) for _ in range(os.cpu_count() or 2)]
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        stats = host.finish()
    finally:
        for hog in hogs:
            hog.kill()
        server.stop()
    stats["measured_round_trip_samples"] = int(np.argmax(np.abs(recorded))) - 6000
    stats["load"] = "both cores busy" if loaded else "idle"
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--style", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        style = args.style or make_gru(work / "gru32.onnx")
        rows = []
        for mode in ("direct", "buffered"):
            for loaded in (False, True):
                print(f"{mode:8} {'load' if loaded else 'idle'}: {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
                rows.append(one_run(style, mode, loaded, args.seconds, work))
    print(f"| mode | load | xruns | late blocks | callbacks | style time median / p99 (us) | reported latency | measured round trip |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['load']} | {r['xruns']} | {r['late_blocks']} | {r['callbacks']} | "
            f"{r['style_time_median_us']:.0f} / {r['style_time_p99_us']:.0f} | {r['total_latency_samples']} smp "
            f"({r['total_latency_ms']:.2f} ms) | {r['measured_round_trip_samples']} smp |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
