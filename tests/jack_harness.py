"""A real audio server for the live tests: a named JACK server on the dummy backend, a
second JACK client that plays into StyleRack's input ports and records its output ports,
and a `stylerack run` process between them."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

RATE = 48000
PERIOD = 128


def jack_missing_reason() -> str | None:
    for tool in ("jackd", "jack_wait"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (Debian: apt-get install jackd2; scripts/setup.sh --dev does it)"
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"JACK-Client cannot load ({exc})"
    return None


#: StyleRack's JACK client (PortAudio's name for it)
HOST_CLIENT = "PortAudio"
#: what jackd2 prints for each client that had not finished its cycle when an xrun came
UNFINISHED = re.compile(r"JackEngine::XRun: client = (.+) was not finished")


class JackServer:
    """A named jackd2 server on the dummy backend. Its messages are read from a pipe by a thread
    (a pipe, not a file: jackd writes them from its real-time thread, and a file write can wait
    on the disk) into ``log``, which ``unfinished_clients`` reads: at each xrun the server names
    the clients that were late."""

    def __init__(self, name: str, period: int = PERIOD) -> None:
        self.name = name
        self.period = period
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        self.log: list[str] = []
        self.process = subprocess.Popen(
            ["jackd", "-n", name, "-R", "-P", "70", "-d", "dummy", "-r", str(RATE), "-p", str(period)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        waited = subprocess.run(["jack_wait", "-w", "-t", "10"], env=self.env, capture_output=True, text=True)
        if waited.returncode != 0 or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"JACK server '{name}' did not start: {waited.stdout} {waited.stderr}")

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.log.append(line.decode(errors="replace"))

    def log_mark(self) -> int:
        """How many lines the server has written so far (for ``unfinished_clients``)."""
        return len(self.log)

    def unfinished_clients(self, since: int) -> Counter:
        """How often the server named each client as not finished at an xrun since ``since``."""
        return Counter(m.group(1) for line in self.log[since:] if (m := UNFINISHED.search(line)))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class JackTester:
    """A JACK client that plays a signal into the host's inputs and records its first output,
    sample-aligned: ``recorded[i]`` arrived in the same cycle position as ``signal[i]`` left.
    It runs in a process of its own (``tests.jack_tester_process``, which says why); ``xruns``
    counts JACK's xrun reports to it (any client late on the server), ``xrun_positions`` where
    in the last signal played they came."""

    def __init__(self, server: JackServer) -> None:
        import tempfile

        self._folder = tempfile.TemporaryDirectory(prefix="srtester-")
        self.xruns = 0
        self.xrun_positions: list[int] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.jack_tester_process", server.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=server.env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        self._ask(None, 30.0)  # ready

    def _ask(self, command: str | None, timeout_s: float) -> dict:
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        answers: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: answers.put(self.process.stdout.readline()), daemon=True).start()
        try:
            line = answers.get(timeout=timeout_s)
        except queue.Empty:
            self._kill()
            raise RuntimeError(f"the JACK tester did not answer {command!r} in {timeout_s:.0f} s") from None
        if not line:
            raise RuntimeError(f"the JACK tester exited (code {self.process.wait()}) on {command!r}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def connect_host(self, timeout_s: float = 10.0) -> None:
        self._ask(f"connect {timeout_s}", timeout_s + 10.0)

    def play_and_record(self, signal: np.ndarray, timeout_s: float | None = None) -> np.ndarray:
        folder = Path(self._folder.name)
        np.save(folder / "signal.npy", np.ascontiguousarray(signal, np.float32))
        timeout_s = timeout_s or len(signal) / RATE + 10
        answer = self._ask(f"play {folder / 'signal.npy'} {folder / 'recorded.npy'} {timeout_s}", timeout_s + 10.0)
        self.xruns += answer["xruns"]
        self.xrun_positions.extend(answer["xrun_positions"])
        return np.load(folder / "recorded.npy")

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._ask("close", 10.0)
                self.process.wait(timeout=10)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self._kill()  # closing a client with a Python callback can hang (see the module)
        self._folder.cleanup()

    def _kill(self) -> None:
        self.process.kill()
        self.process.wait()


class XrunCounter:
    """A JACK client that only listens: it counts the server's xrun reports (any client late),
    with no process callback of its own to make one."""

    def __init__(self, server: JackServer) -> None:
        import jack

        self.client = jack.Client("srxruns", servername=server.name, no_start_server=True)
        self.xruns = 0
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delay_us: float) -> None:
        self.xruns += 1

    def count_for(self, seconds: float) -> int:
        before = self.xruns
        time.sleep(seconds)
        return self.xruns - before

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


class NativeClient:
    """The baseline: jackd2's plain C example client (a sine into the playback ports)."""

    NAME = "jack_simple_client"

    def __init__(self, server: JackServer) -> None:
        self.process = subprocess.Popen(
            ["jack_simple_client"], env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not _client_ports(server, f"{self.NAME}:"):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("jack_simple_client did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _client_ports(server: JackServer, prefix: str) -> bool:
    listed = subprocess.run(["jack_lsp"], env=server.env, capture_output=True, text=True).stdout
    return any(line.startswith(prefix) for line in listed.splitlines())


class HostProcess:
    """`stylerack run` in a subprocess, with stdin for commands and --stats for the numbers."""

    def __init__(self, server: JackServer, stats_path: Path, *args: str) -> None:
        self.stats_path = stats_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "realtime.cli", "run", "--allow-feedback", "--stats", str(stats_path), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=server.env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.wait_for("running ", timeout_s=60)

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, prefix: str, timeout_s: float = 20) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise RuntimeError(f"stylerack run exited: {self.process.stderr.read()}")
                continue
            if line.startswith(prefix):
                return line
        raise RuntimeError(f"no line starting with '{prefix}' from stylerack run")

    def command(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout_s: float = 30) -> dict:
        if self.process.poll() is None:
            self.command("quit")
        self.process.wait(timeout=timeout_s)
        return json.loads(self.stats_path.read_text())
