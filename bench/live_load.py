"""Live glitches and round trip on a JACK dummy server: StyleRack next to a native C client.

    .venv/bin/python bench/live_load.py [--seconds 60] [--periods 128,64] [--json FILE]
                                        [--host-root DIR]

For each period (128 and 64 frames at 48 kHz) and load (idle; both cores busy with one
spinning process each), it measures, one after the other on the same server:

- ``C client``: jackd2's ``jack_simple_client`` (the native baseline);
- ``run``: ``stylerack run --style fuzz --block 0``;
- ``rack``: ``stylerack run`` with a rack of four effect styles (tube-drive > lofi-tape >
  vintage-radio > telephone);
- ``window``: the window (``python -m gui.exercise``, offscreen) processing the live input while
  a script switches between fuzz and tube-drive every 2 s and moves the mix slider 4 times a
  second.

xruns are counted the same way for all three, by an outside JACK client that only listens.
For StyleRack it also reports wet-late blocks, style time p99, worker wake-up p99, callbacks,
and the round trip measured with an impulse from a second JACK client before the timed window
(next to the latency StyleRack reports). ``--host-root`` runs another checkout's StyleRack
(for before/after numbers). Needs jackd and PyQt6 (scripts/setup.sh --dev).
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
from tests.jack_harness import RATE, JackServer, JackTester, NativeClient, XrunCounter  # noqa: E402

RACK = ("tube-drive", "lofi-tape", "vintage-radio", "telephone")
SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass\n"


def start_load(seconds: float) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=seconds)]) for _ in range(os.cpu_count() or 2)]


def stylerack_command(kind: str, stats: Path) -> list[str]:
    if kind == "run":
        return [sys.executable, "-m", "realtime.cli", "run", "--style", "fuzz", "--block", "0", "--allow-feedback",
                "--stats", str(stats)]
    if kind == "rack":
        chain = [arg for name in RACK for arg in ("--style", name)]
        return [sys.executable, "-m", "realtime.cli", "run", *chain, "--block", "0", "--allow-feedback",
                "--stats", str(stats)]
    return [sys.executable, "-m", "gui.exercise", "--styles", "fuzz,tube-drive", "--switch-every", "2",
            "--slide-every", "0.25", "--block", "0", "--seconds", "100000", "--stats", str(stats)]


def round_trip(server: JackServer) -> int:
    tester = JackTester(server)
    try:
        tester.connect_host(timeout_s=60)
        impulse = np.zeros(RATE // 2, np.float32)
        impulse[6000] = 0.5
        recorded = tester.play_and_record(impulse)
    finally:
        tester.close()
    # the onset, not the peak: a distortion's impulse response may peak a few samples in
    return int(np.argmax(np.abs(recorded) > 0.1 * np.abs(recorded).max())) - 6000


def measure_stylerack(server: JackServer, kind: str, loaded: bool, seconds: float, work: Path, root: Path) -> dict:
    stats_path = work / f"{kind}.json"
    stats_path.unlink(missing_ok=True)
    env = dict(server.env, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(root))
    process = subprocess.Popen(stylerack_command(kind, stats_path), env=env, cwd=root, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hogs: list[subprocess.Popen] = []
    try:
        process.stdout.readline()  # "running ..."
        measured = round_trip(server)
        counter = XrunCounter(server)
        hogs = start_load(seconds) if loaded else []
        xruns = counter.count_for(seconds)
        counter.close()
    finally:
        for hog in hogs:
            hog.kill()
        process.communicate("quit\n", timeout=60)  # both write their stats as they stop
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    return {"client": kind, "load": "both cores busy" if loaded else "idle", "xruns": xruns,
            "measured_round_trip_samples": measured, "lone_late_blocks": lone_late_blocks(stats),
            **{k: stats.get(k) for k in REPORTED}}


REPORTED = ("callbacks", "late_blocks", "style_time_p99_us", "worker_wake_p99_us", "total_latency_samples",
            "over_budget_callbacks", "xrun_callbacks", "late_block_callbacks")


def lone_late_blocks(stats: dict) -> int | None:
    """Late blocks with no xrun of the host within 2 callbacks (a stall of the whole process
    makes both): the ones StyleRack's worker is to blame for. Counted among the first 64."""
    if "late_block_callbacks" not in stats:
        return None
    xruns = stats.get("xrun_callbacks", [])
    return sum(1 for c in stats["late_block_callbacks"] if not any(abs(c - x) <= 2 for x in xruns))


def measure_native(server: JackServer, loaded: bool, seconds: float) -> dict:
    client = NativeClient(server)
    counter = XrunCounter(server)
    hogs = start_load(seconds) if loaded else []
    try:
        xruns = counter.count_for(seconds)
    finally:
        for hog in hogs:
            hog.kill()
        counter.close()
        client.stop()
    return {"client": "C client", "load": "both cores busy" if loaded else "idle", "xruns": xruns}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--periods", default="128,64")
    parser.add_argument("--clients", default="C client,run,rack,window")
    parser.add_argument("--loads", default="idle,busy")
    parser.add_argument("--host-root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    clients = args.clients.split(",")
    with tempfile.TemporaryDirectory() as folder:
        for period in map(int, args.periods.split(",")):
            server = JackServer(f"stylerack-bench-{os.getpid()}-{period}", period=period)
            try:
                for loaded in [load == "busy" for load in args.loads.split(",")]:
                    for client in clients:
                        print(f"{period} frames, {client}, {'busy' if loaded else 'idle'}: {args.seconds:.0f} s ...",
                              file=sys.stderr, flush=True)
                        if client == "C client":
                            row = measure_native(server, loaded, args.seconds)
                        else:
                            row = measure_stylerack(server, client, loaded, args.seconds, Path(folder), args.host_root)
                        rows.append({"period": period, **row})
                        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
                        time.sleep(1.0)
            finally:
                server.stop()
    print("| period | load | client | xruns | wet-late blocks (lone) | callbacks | style p99 (us) | worker wake p99 (us) "
          "| reported latency | measured round trip |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [str(r["period"]), r["load"], r["client"], str(r["xruns"])]
        if r["client"] == "C client":
            cells += ["", "", "", "", "", ""]
        else:
            lone = "" if r["lone_late_blocks"] is None else f" ({r['lone_late_blocks']})"
            cells += [f"{r['late_blocks']}{lone}", str(r["callbacks"]), _us(r["style_time_p99_us"]),
                      _us(r["worker_wake_p99_us"]), f"{r['total_latency_samples']} smp",
                      f"{r['measured_round_trip_samples']} smp"]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def _us(value) -> str:
    return "-" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    sys.exit(main())
