"""Text commands for a running ``stylerack run``, one per line on standard input.

    mix 0.3 | bypass on|off | style NAME_OR_PATH | param [SLOT.]NAME=VALUE
    slot N mix 0.5 | slot N bypass on|off | slot N style NAME | slot N param NAME=VALUE
    add STYLE [POS] | remove N | move N POS | rack | rack save FILE [overwrite] | rack load FILE
    input-gain DB | output-gain DB | mute | unmute | stats | quit

``mix`` and ``bypass`` are the master's; slots are numbered from 1 in chain order.

Lines are read on their own thread and applied by the control loop, never by the audio
thread; a bad line is answered with one error line and the audio keeps going.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

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
        if len(engine.rack.slots) > 1:
            raise ConfigError(f"the rack has {len(engine.rack.slots)} slots: use 'slot N style NAME'")
        strip = engine.load(resolve(rest, styles_dirs))
        return f"style '{strip.name}' (latency {strip.latency.total_frames} samples)"
    if verb == "slot":
        return _slot_command(engine, rest, styles_dirs)
    if verb == "add":
        parts = rest.rsplit(maxsplit=1)
        if not parts:
            raise ConfigError("add needs a style (and optionally a position)")
        name, position = (parts[0], int(parts[1])) if len(parts) == 2 and parts[1].isdigit() else (rest, None)
        return _rack_reply(engine, engine.add_slot(resolve(name, styles_dirs), position))
    if verb == "remove":
        return _rack_reply(engine, engine.remove_slot(_slot_number(rest)))
    if verb == "move":
        numbers = rest.split()
        if len(numbers) != 2:
            raise ConfigError("move needs a slot number and a position: move N POS")
        return _rack_reply(engine, engine.move_slot(_slot_number(numbers[0]), _slot_number(numbers[1])))
    if verb == "rack":
        return _rack_command(engine, rest, styles_dirs)
    if verb == "stats":
        return json.dumps(host.report())
    raise ConfigError(
        f"unknown command '{verb}' (mix, bypass, style, param, slot, add, remove, move, rack, input-gain, "
        "output-gain, mute, unmute, stats, quit)"
    )


def _slot_number(text: str) -> int:
    if not text.strip().isdigit():
        raise ConfigError(f"'{text}' is not a slot number (1 = the first)")
    return int(text)


def _rack_reply(engine, strip) -> str:
    parts = " + ".join(f"{name} {frames:g}" for name, frames in strip.latency.parts) or "no styles"
    reply = f"rack: {strip.name} (latency {strip.latency.total_frames} samples: {parts}, plus buffering)"
    return "\n".join([reply, *engine.notes])


def _slot_command(engine, rest: str, styles_dirs) -> str:
    words = rest.split(maxsplit=2)
    if len(words) < 3:
        raise ConfigError("slot needs: slot N mix|bypass|style|param VALUE")
    number, what, value = _slot_number(words[0]), words[1].lower(), words[2].strip()
    if what == "mix":
        engine.set_slot_mix(number, _number(value, "slot mix"))
        return f"slot {number} mix {engine.rack.slots[number - 1].mix:.2f}"
    if what == "bypass":
        if value not in ("on", "off"):
            raise ConfigError("slot bypass needs 'on' or 'off'")
        engine.set_slot_bypass(number, value == "on")
        return f"slot {number} bypass {value}"
    if what == "style":
        return _rack_reply(engine, engine.set_slot_style(number, resolve(value, styles_dirs)))
    if what == "param":
        name, sep, amount = value.partition("=")
        if not sep:
            raise ConfigError("slot param needs NAME=VALUE")
        used = engine.set_param(f"{number}.{name.strip()}", _number(amount.strip(), "param"))
        return f"slot {number} param {name.strip()}={used:g}"
    raise ConfigError(f"unknown slot setting '{what}' (mix, bypass, style, param)")


def _rack_command(engine, rest: str, styles_dirs) -> str:
    from realtime.format.rack import read_rack, write_rack

    words = rest.split()
    if not words:
        return json.dumps(engine.rack.to_json())
    if words[0] == "save" and len(words) in (2, 3) and (len(words) == 2 or words[2] == "overwrite"):
        path, overwrite = words[1], len(words) == 3
        if Path(path).exists() and not overwrite:
            raise ConfigError(f"{path}: already exists ('rack save {path} overwrite' replaces it)")
        write_rack(path, engine.rack, overwrite=overwrite)
        return f"rack saved to {path}"
    if words[0] == "load" and len(words) == 2:
        return _rack_reply(engine, engine.set_rack(read_rack(words[1])))
    raise ConfigError("rack needs: rack | rack save FILE [overwrite] | rack load FILE")


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
