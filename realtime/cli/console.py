"""Text commands for a running ``stylerack run``, one per line on standard input.

    mix 0.3 | bypass on|off | style NAME_OR_PATH | param NAME=VALUE
    input-gain DB | output-gain DB | mute | unmute | stats | quit

Lines are read on their own thread and applied by the control loop, never by the audio
thread; a bad line is answered with one error line and the audio keeps going.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Sequence

from realtime.format.catalog import resolve
from realtime.errors import ConfigError, StyleRackError
from realtime.engine.worker import HELPER_PRIORITY, try_realtime_priority


class CommandReader:
    """Reads lines from a stream on a daemon thread into a queue."""

    def __init__(self, stream=None) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._stream = stream or sys.stdin
        threading.Thread(target=self._read, name="stylerack-commands", daemon=True).start()

    def _read(self) -> None:
        try_realtime_priority(HELPER_PRIORITY)  # it takes the GIL (briefly) that the style worker needs
        try:
            for line in self._stream:
                self.lines.put(line)
        except (OSError, ValueError):
            pass
        self.lines.put(None)  # end of input

    def pending(self) -> list[str | None]:
        items = []
        while True:
            try:
                items.append(self.lines.get_nowait())
            except queue.Empty:
                return items


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{what} needs a number, got '{text}'") from None


def apply_command(host, line: str, styles_dirs: Sequence[str] = ()) -> str | None:
    """Apply one command line to a LiveHost. Returns a reply to print, or 'quit'.
    Raises StyleRackError for a bad command (the caller prints it; audio goes on)."""
    words = line.split(maxsplit=1)
    if not words:
        return None
    verb, rest = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    engine = host.engine
    if verb == "quit":
        return "quit"
    if verb == "mix":
        engine.set_mix(_number(rest, "mix"))
        return f"mix {min(1.0, max(0.0, float(rest))):.2f}"
    if verb == "bypass":
        if rest not in ("on", "off"):
            raise ConfigError("bypass needs 'on' or 'off'")
        engine.set_bypass(rest == "on")
        return f"bypass {rest}"
    if verb in ("input-gain", "output-gain"):
        gain_db = _number(rest, verb)
        (engine.set_input_gain_db if verb == "input-gain" else engine.set_output_gain_db)(gain_db)
        return f"{verb} {gain_db:+.1f} dB"
    if verb in ("mute", "unmute"):
        engine.set_output_gain_db(float("-inf") if verb == "mute" else 0.0)
        return verb + "d"
    if verb == "param":
        name, sep, value = rest.partition("=")
        if not sep:
            raise ConfigError("param needs NAME=VALUE")
        used = engine.set_param(name.strip(), _number(value.strip(), "param"))
        return f"param {name.strip()}={used:g}"
    if verb == "style":
        if not rest:
            raise ConfigError("style needs a name or a path")
        strip = engine.load(resolve(rest, styles_dirs))
        return f"style '{strip.name}' (latency {strip.latency.total_frames} samples)"
    if verb == "stats":
        return json.dumps(host.report())
    raise ConfigError(f"unknown command '{verb}' (mix, bypass, style, param, input-gain, output-gain, mute, unmute, stats, quit)")


def run_pending(host, reader: CommandReader, styles_dirs: Sequence[str] = ()) -> bool:
    """Apply queued commands; returns False when asked to quit (or input ended with 'quit')."""
    for line in reader.pending():
        if line is None:
            continue  # stdin closed: keep running until --seconds or Ctrl-C
        try:
            reply = apply_command(host, line, styles_dirs)
        except StyleRackError as exc:
            print(f"stylerack: error: {exc}", file=sys.stderr, flush=True)
            continue
        if reply == "quit":
            return False
        if reply:
            print(reply, flush=True)
    return True
